# Licensor: `make run` serves on SQLite with no other setup; `make test` passes the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-sqlite lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## Serve on http://127.0.0.1:8000 with SQLite in ./data (migrates first)
run: install
	$(BIN)/licensor serve

## The whole suite, on SQLite and PostgreSQL (PostgreSQL at LICENSOR_TEST_POSTGRES_URL)
test: install
	$(BIN)/pytest -q

test-sqlite: install
	LICENSOR_TEST_BACKENDS=sqlite $(BIN)/pytest -q

lint: install
	$(BIN)/ruff check licensor tests $(wildcard bench)
	$(BIN)/ruff format --check licensor tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/validate.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
