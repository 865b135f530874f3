# Every target creates .venv on first use and reuses it afterwards.
# `make lab` and `make test` are the two commands the README promises.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pip extras: the JupyterLab server (lab) and the test tools (dev)
EXTRAS ?= lab,dev
# TORCH=cpu installs the CPU-only PyTorch first (about 1 GB instead of about 5 GB with CUDA)
TORCH ?=
LAB_ARGS ?=
PYTEST_ARGS ?=

.PHONY: help install lab data test unit notebooks lint format exercises grade setup-cells clean-notebooks clean

help:
	@echo "make lab        install, prepare the default dataset, open JupyterLab on notebooks/"
	@echo "make test       install, then the whole suite (unit tests, doctests, lint, every notebook)"
	@echo "make unit       unit tests and doctests only (fast)"
	@echo "make exercises  regenerate exercises/ (and the nbgrader metadata) from solutions/"
	@echo "make grade      the nbgrader round trip (generate, autograde) on every lesson"
	@echo "make setup-cells  rewrite the first (setup) cell of every notebook"
	@echo "TORCH=cpu       with the first install: CPU-only PyTorch (no NVIDIA GPU, about 1 GB)"
	@echo "make format     ruff format + autofix"

$(STAMP): pyproject.toml
	@echo "Installing the course into $(VENV) (once): PyTorch, Lightning, JupyterLab and friends."
	@echo "Expect 5 to 10 minutes and about 6 GB: the default Linux PyTorch brings about 3 GB of"
	@echo "CUDA libraries. No NVIDIA GPU? Stop (Ctrl-C), then run 'make lab TORCH=cpu' for the"
	@echo "CPU-only PyTorch (about 1 GB). Colab needs none of this: open a lesson there."
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(filter cpu,$(TORCH)),$(PY) -m pip install --disable-pip-version-check torch torchvision --index-url https://download.pytorch.org/whl/cpu)
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -e '.[$(EXTRAS)]'
	touch $(STAMP)
	@echo "Installed. Commands: course-train, course-data, course-lab (in $(VENV)/bin)."

install: $(STAMP)

data: $(STAMP)
	$(PY) -m course_lib.datasets prepare default

lab: $(STAMP) data
	$(PY) -m course_lib.lab $(LAB_ARGS)

test: $(STAMP)
	COURSE_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest -n 2 --dist loadfile \
		tests course_lib --nbval-lax --nbval-current-env notebooks solutions exercises $(PYTEST_ARGS)

unit: $(STAMP)
	COURSE_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest -n 2 tests course_lib $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check course_lib tests benchmarks
	$(PY) -m ruff format --check course_lib tests benchmarks

format: $(STAMP)
	$(PY) -m ruff check --fix course_lib tests benchmarks
	$(PY) -m ruff format course_lib tests benchmarks

exercises: $(STAMP)
	$(PY) -m course_lib.exercises

grade: $(STAMP)
	COURSE_PROFILE=smoke MPLBACKEND=Agg NBGRADER_LESSONS=all $(PY) -m pytest -n 2 \
		tests/test_nbgrader.py $(PYTEST_ARGS)

setup-cells: $(STAMP)
	$(PY) -m course_lib.colab

clean-notebooks: $(STAMP)
	$(PY) -m jupyter nbconvert --clear-output --inplace notebooks/*.ipynb solutions/*.ipynb

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache lightning_logs
