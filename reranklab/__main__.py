"""Run the RerankLab command line: `python -m reranklab --help`."""

from reranklab.cli import main

raise SystemExit(main())
