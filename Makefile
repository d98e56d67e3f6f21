# paylive: every target sets itself up on a fresh clone.
#   make run   - the demo; installs the runtime only (and PostgreSQL if the machine lacks it)
#   make test  - lint, then every test; adds the dev tools, Chromium and Node
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --quiet --disable-pip-version-check
# Separate stamps: `make run` after `make test` installs nothing, and adding the dev tools
# later does not reinstall the runtime.
RUNTIME := $(VENV)/.runtime-installed
DEV     := $(VENV)/.dev-installed

.PHONY: install install-dev run test lint migrate bench reset clean

install: $(RUNTIME)
install-dev: $(DEV)

# A current pip first: it resolves and installs the rest with about a third less CPU than
# the one venv bundles (Python 3.11's pip 23.2), more than paying for itself. The machine's
# own pip puts it there (`--python`, pip 22.3+): 2.5 s instead of ensurepip's 8 s for a pip
# we would replace at once. Without one (Debian's python3 has no pip) ensurepip it is.
$(PY):
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --quiet --disable-pip-version-check --python $(PY) install --no-compile \
	  --upgrade pip 2>/dev/null || { $(PY) -m ensurepip --default-pip && \
	  $(PIP) install --no-compile --upgrade pip; }

# --no-compile: no up-front bytecode for all of stripe's ~1,650 modules; Python compiles
# the few it imports on first use.
$(RUNTIME): pyproject.toml | $(PY)
	$(PIP) install --no-compile -e .
	touch $@

$(DEV): pyproject.toml $(RUNTIME)
	$(PIP) install --no-compile -e '.[dev]'
	touch $@

# Machine packages first, so a machine that lacks one stops before any pip install.
run:
	scripts/system-packages run
	@$(MAKE) --no-print-directory install
	$(PY) -m service demo

test:
	scripts/system-packages test
	@$(MAKE) --no-print-directory lint
	$(PY) -m pytest

lint: $(DEV)
	$(VENV)/bin/ruff check service tests
	$(VENV)/bin/ruff format --check service tests
	$(VENV)/bin/mypy

migrate:
	scripts/system-packages run
	@$(MAKE) --no-print-directory install
	$(PY) -m service migrate

bench:
	scripts/system-packages bench
	@$(MAKE) --no-print-directory install-dev
	$(PY) -m tests.bench

# Deletes the demo's data (its PostgreSQL folder); refuses while the demo is running.
reset: install
	$(PY) -m service reset-demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
