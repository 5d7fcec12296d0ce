# Two commands on a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint migrate admin clean help

help:
	@echo "make run    set up and start the gateway on http://$(HOST):$(PORT) (SQLite, web + worker)"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff, the layers contract (import-linter) and mypy"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps make a second `make run`/`make test` skip the install unless pyproject.toml changed.
$(VENV)/.stamp-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.stamp-run

migrate: $(VENV)/.stamp-run
	$(PY) manage.py migrate --noinput

admin: migrate
	$(PY) manage.py ensure_admin

run: admin
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

# The whole suite on SQLite, then the tests marked `dbengines` again on a throwaway PostgreSQL
# cluster (tests/support/pgcluster.py). pytest's exit code 5 (no tests collected) is a failure.
PG_PYTEST_ARGS ?= -m dbengines -p no:cacheprovider
test: $(VENV)/.stamp-dev
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	$(PY) -m tests.support.pgcluster -- $(PY) -m pytest $(PG_PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no dbengines tests collected" >&2; exit 1; fi; exit $$rc

# Style, the layers contract (pyproject.toml [tool.importlinter]) and types.
lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
