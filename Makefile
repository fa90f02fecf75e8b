# Licensor: `make run` serves on SQLite with no other setup; `make test` passes the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The browser tests drive Debian's Chromium, as its headless shell (the same engine without
# the desktop browser around it: a quarter less CPU per browser test, measured); Playwright
# never downloads a browser.
CHROMIUM := /usr/bin/chromium-headless-shell
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install lock run test test-sqlite lint bench clean

## Installs exactly the locked, hash-checked dependencies, then Licensor itself
install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

## Re-resolve requirements.lock from the ranges in pyproject.toml (runtime + dev extras,
## Linux x86_64, Python 3.11); `make lock UPGRADE=1` also moves to the newest releases.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --quiet \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		$(if $(UPGRADE),--upgrade) -o requirements.lock

## Debian's Chromium headless shell for the browser tests, installed with apt when missing
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium-headless-shell

## Serve on http://127.0.0.1:8000 with SQLite in ./data (migrates first)
run: install
	$(BIN)/licensor serve

## The whole suite, on SQLite and PostgreSQL (PostgreSQL at LICENSOR_TEST_POSTGRES_URL),
## in TEST_WORKERS pytest-xdist workers (each its own servers, databases and data dirs)
TEST_WORKERS ?= 3
test: install $(CHROMIUM)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --durations=40

test-sqlite: install $(CHROMIUM)
	LICENSOR_TEST_BACKENDS=sqlite $(BIN)/pytest -q -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check licensor tests $(wildcard bench) $(wildcard scripts)
	$(BIN)/ruff format --check licensor tests $(wildcard bench) $(wildcard scripts)
	$(BIN)/mypy
	$(BIN)/mypy bench
	$(BIN)/mypy scripts
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/validate.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
