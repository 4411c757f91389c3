# liqwatch — every target makes its own virtualenv from a fresh clone; no network is
# needed at run time (only the package index at install time).
PYTHON ?= python3
VENV_TEST := .venv
VENV_DEMO := .venv-demo
export MPLBACKEND := agg

.PHONY: demo test lint bench clean

$(VENV_TEST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_TEST)
	$(VENV_TEST)/bin/pip install --quiet --upgrade pip
	$(VENV_TEST)/bin/pip install --quiet -e '.[dev]'
	touch $@

$(VENV_DEMO)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_DEMO)
	$(VENV_DEMO)/bin/pip install --quiet --upgrade pip
	$(VENV_DEMO)/bin/pip install --quiet -e .
	touch $@

demo: $(VENV_DEMO)/.installed
	$(VENV_DEMO)/bin/liqwatch demo --out out/demo

lint: $(VENV_TEST)/.installed
	$(VENV_TEST)/bin/ruff check .
	$(VENV_TEST)/bin/ruff format --check .
	$(VENV_TEST)/bin/mypy
	$(VENV_TEST)/bin/lint-imports

test: lint
	$(VENV_TEST)/bin/pytest

bench: $(VENV_TEST)/.installed
	$(VENV_TEST)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV_TEST) $(VENV_DEMO) out .pytest_cache .mypy_cache .ruff_cache
