# RerankLab: `make run` starts the app, `make test` runs the test suite,
# `make bench SCIFACT=/path/to/scifact` runs the benchmarks (`make bench-quick`: under 10 minutes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-test.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# Benchmarks write their sections of docs/benchmarks.md. SCIFACT is a BEIR SciFact folder.
# BENCH_CACHE is the RerankLab cache folder with the SciFact passage embeddings; the first
# run without them embeds the corpus once (about 10 minutes on 2 cores) and saves them there.
# The full run takes over an hour on 2 cores, mostly the fp32 and int8 cross-encoders on
# all 300 test queries (an estimate from the quick run's per-query times).
SCIFACT ?=
BENCH_CACHE ?= $(HOME)/.cache/reranklab
BENCH_OUTPUT ?= docs/benchmarks.md
# A trained cross-encoder folder to time instead of the untrained MiniLM stand-in.
CROSS_ENCODER ?=
QUICK ?=
# Quick mode times fewer queries and does not wait for an idle CPU; each section records the load.
BENCH_FLAGS := $(if $(QUICK),--quick --load-wait 0,)
CROSS_ENCODER_FLAG := $(if $(CROSS_ENCODER),--cross-encoder $(CROSS_ENCODER),)

bench: $(VENV)/.installed-test
	@test -n "$(SCIFACT)" || { echo "error: set SCIFACT to a BEIR SciFact folder, e.g. make bench SCIFACT=/data/scifact"; exit 2; }
	$(BIN)/python benchmarks/first_stage.py --scifact $(SCIFACT) $(BENCH_FLAGS) --output $(BENCH_OUTPUT)
	$(BIN)/python benchmarks/rerankers.py --scifact $(SCIFACT) --cache-dir $(BENCH_CACHE) $(CROSS_ENCODER_FLAG) $(BENCH_FLAGS) --output $(BENCH_OUTPUT)
	$(BIN)/python benchmarks/browser_e2e.py --scifact $(SCIFACT) --cache-dir $(BENCH_CACHE) $(CROSS_ENCODER_FLAG) $(BENCH_FLAGS) --output $(BENCH_OUTPUT)
	$(BIN)/python benchmarks/cost_growth.py $(BENCH_FLAGS) --output $(BENCH_OUTPUT)
ifeq ($(QUICK),)
	$(BIN)/python benchmarks/scifact_ingest.py --scifact $(SCIFACT) --output $(BENCH_OUTPUT)
	$(BIN)/python benchmarks/browser_upload.py --scifact $(SCIFACT) --output $(BENCH_OUTPUT)
endif

bench-quick:
	$(MAKE) bench QUICK=1

clean:
	rm -rf $(VENV) .pytest_cache
