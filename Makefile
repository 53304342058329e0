# The README's commands. Every target runs with the project's virtual environment on PATH.
VENV ?= .venv
PYTHON ?= python3
CORES ?= 2
PRESET ?= quick
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup run reproduce pull test lint bench report readme publish dryrun-paper setup-done

# every target but setup needs the environment `make setup` creates: say so instead of failing on
# a missing command or module
setup-done:
	@test -x "$(VENV)/bin/python" || { echo "make: no virtual environment in $(VENV): run" \
	  "'make setup' first (about 2 minutes), or name an existing one: make <target> VENV=<path>"; \
	  exit 2; }

run reproduce pull test lint bench report readme publish dryrun-paper: | setup-done

setup:  ## isolated environment with the study's pinned dependencies and gcnc (editable)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[study,dev]"
	@# real Fashion-MNIST, offline: Debian's package (root only); never fails the setup
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  if apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	     { apt-get update -qq >/dev/null 2>&1 && \
	       apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; }; then \
	    echo "setup: Fashion-MNIST installed in /usr/share/datasets/fashion-mnist (Debian)"; \
	  else \
	    echo "setup: WARNING: apt-get install dataset-fashion-mnist failed; Fashion-MNIST: put" \
	      "its four IDX files under data/raw/FashionMNIST/raw/, or set data.allow_download: true"; \
	  fi; \
	else \
	  echo "setup: Fashion-MNIST not installed (needs apt-get as root): run" \
	    "'apt-get install dataset-fashion-mnist' as root, put its four IDX files under" \
	    "data/raw/FashionMNIST/raw/, or set data.allow_download: true"; \
	fi

run:  ## the main job: one preset (default quick: real Fashion-MNIST, CPU, <= 12 min on 2 cores)
	@# after a kill: remove a stale lock, only if no Snakemake runs here (gcnc.study.runner.locks says what it did)
	python -m gcnc.study.runner.locks -- --config preset=$(PRESET)
	@# Snakemake, one line per finished job (gcnc.study.runner.console); errors and the summary in full
	python -m gcnc.study.runner.console -- --cores $(CORES) --rerun-incomplete --config preset=$(PRESET)

reproduce:  ## the same study through DVC (records dvc.lock), preset from params.yaml
	dvc repro

pull:  ## after git clone: the committed results from the DVC remote, then nothing left to run
	@test -f dvc.lock || { echo "pull: this commit has no dvc.lock, so there are no published" \
	  "results to pull: run 'make run' to make them (README, Sharing results through DVC)"; exit 2; }
	@dvc remote default >/dev/null 2>&1 || { echo "pull: no default DVC remote in .dvc/config:" \
	  "add the one the results were pushed to ('dvc remote add -d store <url>'), or run" \
	  "'make run' to make them"; exit 2; }
	dvc pull
	@dvc status --quiet || { echo "pull: these outputs are not what this commit's code and" \
	  "params.yaml make (dvc status lists what differs); run 'make run' instead"; exit 1; }
	@# pulled files carry checkout-time mtimes; DVC has verified them, so mark them up to date
	snakemake --touch --quiet --cores 1

test:  ## the whole test suite, end-to-end workflow runs included
	python -m pytest -q

lint:  ## ruff, snakefmt and Snakemake's linter (CI runs this before the tests)
	ruff check src tests workflow/scripts benchmarks
	snakefmt --check Snakefile workflow/rules
	snakemake --lint --config preset=smoke

bench:  ## speed benchmarks (numbers go to BENCHMARKS.md)
	python benchmarks/bench_gc.py
	python benchmarks/bench_fewshot.py
	python benchmarks/bench_logging.py
	python benchmarks/bench_paper_compute.py
	python benchmarks/bench_training.py
	python benchmarks/bench_measure.py

readme:  ## README's central table and docs/results/<preset>.md from every preset with results
	gcnc readme

report:  ## report.html: the answer first, then every preset with results (here or published/)
	gcnc report --out report.html

dryrun-paper:  ## plan the paper's full grid (no data needed)
	snakemake -n --quiet rules --config preset=paper

publish:  ## published/$(PRESET)/: the preset's figures, tables, claims, sidecars and collected results
	gcnc publish --preset $(PRESET)
