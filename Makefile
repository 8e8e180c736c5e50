# The two commands of the quick start: `make run` (the app) and `make test` (the tests).
# Both create .venv on first use with Python 3.12 (durable-rules does not build on 3.13+).
PY ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test gates lint types layers kb-lint bench clean

run: $(STAMP)
	@$(VENV)/bin/bmsdoc

# The gates (lint, types, architecture, the KB's own validation), then the suite on two workers.
# `make test PYTEST_ARGS='-m "not slow"'` skips the slow end-to-end tests while iterating.
test: gates
	$(VENV)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

gates: lint types layers kb-lint

lint: $(STAMP)
	$(VENV)/bin/ruff check .

types: $(STAMP)
	$(VENV)/bin/mypy

layers: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

kb-lint: $(STAMP)
	$(VENV)/bin/bmsdoc kb validate content

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(VENV)/bin/python $$f || exit 1; done

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
