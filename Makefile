# paylive: every target sets itself up on a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test lint migrate bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(PY) -m service demo

test: lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check service tests
	$(VENV)/bin/ruff format --check service tests
	$(VENV)/bin/mypy

migrate: install
	$(PY) -m service migrate

bench: install
	$(PY) -m tests.bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
