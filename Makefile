# The two commands a newcomer types (see README.md):
#   make course   # set up, then execute every notebook headless (full size)
#   make test     # set up, then ruff, the unit tests and every notebook under nbval in fast mode
# and, for people: make lab
SHELL := /bin/bash
# The first supported Python found; `make prereqs` (run before anything installs) says which and refuses < 3.10.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.10 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1

.PHONY: setup prereqs venv data course weights test lint format unit notebooks browser site lab clean bench gpu-check student-kit

setup: venv data

venv: $(STAMP)

# A supported Python with its venv module (Debian's python3.X-venv), named with the apt fix, before anything installs.
# Once .venv exists, only its Python's version is checked.
prereqs:
	@if [ -x $(PY) ]; then sh tools/check_prereqs.sh $(PY) --version-only; else sh tools/check_prereqs.sh "$(PYTHON)"; fi

# Recreated whenever the pinned files change.
$(STAMP): requirements.txt pyproject.toml | prereqs
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

# Find the datasets; install Debian's Fashion-MNIST when none is found and apt is usable.
data: venv
	@$(PY) -m vae_helpers.data fashion-mnist >/dev/null 2>&1 || $(MAKE) --no-print-directory debian-fashion-mnist
	$(PY) -m vae_helpers.data

debian-fashion-mnist:
	@echo "Fashion-MNIST not found: installing Debian's dataset-fashion-mnist (offline-capable package)."
	@if command -v apt-get >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	else echo "apt-get is not available: see data/README.md for other ways to get Fashion-MNIST."; fi

# Debian's chromium for tests/test_browser.py, which drags a real slider in JupyterLab through Playwright
# (`playwright install` cannot download browsers here). Only `make test` needs it. A failed install is an
# error under CI=true; elsewhere the browser test then skips and says why.
browser:
	@command -v chromium >/dev/null || { \
	  echo "chromium not found: installing Debian's chromium for the browser test."; \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "apt-get is not available: install Chromium so that 'chromium' is on PATH."; false; fi \
	  || { [ "$$CI" = true ] && exit 1; echo "warning: no chromium, tests/test_browser.py will skip."; }; }

# The course as a static website in build/site/ (Sphinx + myst-nb, site/conf.py): the committed outputs, no notebook
# executed, no network. Publish the folder as it is; tests/test_site.py opens every page in chromium.
site: venv
	$(PY) -m vae_helpers.tools.site

course: setup
	$(PY) -m vae_helpers.tools.course

# What students get, without the repository: build/student-kit/vae-course-student-kit.tar.gz (the student notebooks,
# a wheel of vae_helpers with the zoo's weights and no answers, the pins, a README; tools/student_kit.py).
student-kit: venv
	$(PY) -m tools.student_kit

# Retrain the model zoo (vae_helpers/assets/zoo/) by its recipes and rewrite the manifest; NAMES="fashion-vae-d20 ..." for some.
weights: setup
	$(PY) -m vae_helpers.tools.weights $(NAMES)

# Two workers, one test file each at a time, one thread per process: the notebooks the tests start are mostly
# Python and small tensors, so two one-thread jobs finish sooner than one two-thread job (TEST_WORKERS=1: in order).
TEST_WORKERS ?= 2
# pytest-xdist flags: two workers, one file each at a time, longest files first (conftest._longest_first)
XDIST = $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)
unit: setup
	OMP_NUM_THREADS=1 $(PY) -m pytest $(XDIST) tests

# Once, in fast mode, with the verified pretrained weights (every notebook's default); cells marked
# "# NBVAL_CHECK_OUTPUT" must reproduce the committed (full-run) outputs exactly. TEST_WORKERS workers, one notebook each
# at a time and one thread per kernel (as the course runner's jobs), so the two cores are busy. Then the retrain path.
# NBVAL_RUNS=2 repeats the run, to check that a second pass with the caches and checkpoints of the first also passes.
NBVAL_RUNS ?= 1
notebooks: setup
	@for run in $$(seq 1 $(NBVAL_RUNS)); do \
	  echo "== notebooks under nbval, fast mode, run $$run of $(NBVAL_RUNS)"; \
	  VAE_FAST=1 OMP_NUM_THREADS=1 $(PY) -m pytest $(XDIST) --nbval-lax --sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider --ignore=notebooks/student notebooks || exit $$?; \
	done
	@echo "== the retrain path: TRAIN = True (each model trained by its zoo recipe), fast mode, one job per core; 02 has no TRAIN switch and 10 always trains under nbval"
	$(PY) -m vae_helpers.tools.course --fast --train --out build/course-train-path 00 01 03 04 05 06 07 08 09 11

# Style kept by a machine: ruff's lint rules and its formatter (configured in pyproject.toml), on the package and tests.
lint: venv
	$(VENV)/bin/ruff check vae_helpers benchmarks grading tools tests conftest.py
	$(VENV)/bin/ruff format --check vae_helpers benchmarks grading tools tests conftest.py

format: venv
	$(VENV)/bin/ruff check --fix vae_helpers benchmarks grading tools tests conftest.py
	$(VENV)/bin/ruff format vae_helpers benchmarks grading tools tests conftest.py

test: lint browser site unit notebooks

# One benchmark (benchmarks/, not installed; docs/benchmarks.md has the figures): BENCH="throughput --repeats 2".
# --write-docs replaces that benchmark's section of docs/benchmarks.md with the tables it printed.
BENCH ?= course --fast
bench: setup
	$(PY) -m benchmarks $(BENCH)

# The GPU path in about 8 minutes on a CUDA machine: build/gpu_check.json and .md (CONTRIBUTING.md, "The GPU check").
# GPU_CHECK="--dry-run" runs it on the CPU with tiny sizes (tests/test_bench.py does, in make test);
# PY=python3 uses an interpreter that already has torch (a GPU machine's image) instead of the course's venv.
GPU_CHECK ?=
gpu-check: $(if $(filter $(VENV)/%,$(PY)),venv)
	$(PY) -m benchmarks gpu-check --out build/gpu_check.json $(GPU_CHECK)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

clean:
	rm -rf build test-artifacts .pytest_cache data/cache
