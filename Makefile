# The two commands of the quick start: `make run` (the app) and `make test` (the tests).
# Both create .venv on first use with Python 3.12 (durable-rules does not build on 3.13+).
PY ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench clean

run: $(STAMP)
	@$(VENV)/bin/bmsdoc

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(VENV)/bin/python $$f || exit 1; done

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache
