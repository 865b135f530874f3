# Every target creates .venv on first use and reuses it afterwards.
# `make lab` and `make test` are the two commands the README promises.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_ARGS ?=
PYTEST_ARGS ?=

.PHONY: help install lab data test unit notebooks lint format exercises clean-notebooks clean

help:
	@echo "make lab        install, prepare the default dataset, open JupyterLab on notebooks/"
	@echo "make test       install, then the whole suite (unit tests, doctests, lint, every notebook)"
	@echo "make unit       unit tests and doctests only (fast)"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make format     ruff format + autofix"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(PY) -m course_lib.datasets prepare default

lab: $(STAMP) data
	$(PY) -m jupyter lab --notebook-dir=. notebooks/00_welcome.ipynb $(LAB_ARGS)

test: $(STAMP)
	COURSE_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest -n 2 --dist loadfile \
		tests course_lib --nbval-lax --nbval-current-env notebooks solutions $(PYTEST_ARGS)

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

clean-notebooks: $(STAMP)
	$(PY) -m jupyter nbconvert --clear-output --inplace notebooks/*.ipynb solutions/*.ipynb

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache lightning_logs
