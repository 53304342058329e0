# The README's commands. Every target runs with the project's virtual environment on PATH.
VENV ?= .venv
PYTHON ?= python3
CORES ?= 2
PRESET ?= quick
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup run reproduce test lint bench report dryrun-paper

setup:  ## isolated environment with pinned dependencies and the gcnc package (editable)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"

run:  ## the main job: one preset (default quick: offline, CPU, ~4-7 min on 2 cores) through Snakemake
	snakemake --cores $(CORES) --rerun-incomplete --config preset=$(PRESET)

reproduce:  ## the same study through DVC (records dvc.lock), preset from params.yaml
	dvc repro

test:  ## the whole test suite, end-to-end workflow runs included
	python -m pytest -q

lint:
	ruff check src tests workflow/scripts benchmarks
	snakemake --lint --config preset=smoke

bench:  ## speed benchmarks (numbers go to BENCHMARKS.md)
	python benchmarks/bench_gc.py
	python benchmarks/bench_fewshot.py
	python benchmarks/bench_logging.py

report:  ## browsable HTML report of every figure, captioned (after `make run`)
	snakemake --report report.html --config preset=$(PRESET)

dryrun-paper:  ## plan the paper's full grid (no data needed)
	snakemake -n --quiet rules --config preset=paper
