"""Fake cloud services on 127.0.0.1 that speak the real REST wire formats."""
