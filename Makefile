# Two commands: `make run` (set up and serve the panel) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
export FLASK_APP := run.py

.PHONY: run test test-sqlite test-postgres setup venv dev-venv browser axe wrk lint bench screenshots clean

run: setup
	$(BIN)/python run.py

setup: venv
	$(BIN)/flask setup --demo

venv: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

dev-venv: $(DEV_STAMP)

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Debian's Chromium for the browser tests (test tools cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# axe-core from npm (package.json), injected into every page the browser tests visit.
axe: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# Every test, on SQLite and then on PostgreSQL (a throwaway database per run), with
# the two soak tests beside them, once each; prints the total duration.
test: dev-venv browser axe
	tests/run-all.sh

test-sqlite: dev-venv axe
	$(BIN)/python -m pytest --db=sqlite $(ARGS)

test-postgres: dev-venv axe
	$(BIN)/python -m pytest --db=postgresql $(ARGS)

# Debian's wrk for the load benchmark.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk for the load benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

# Benchmarks (reports, not tests): every bench/ script on SQLite and PostgreSQL.
bench: dev-venv wrk browser
	$(BIN)/python -m bench.list_pages
	$(BIN)/python -m bench.allocate
	$(BIN)/python -m bench.import
	$(BIN)/python -m bench.sweep
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.browser_import

# The main screens as the README shows them (a browser walk over fresh demo data).
screenshots: dev-venv browser axe
	$(BIN)/python -m pytest -p no:cacheprovider -q --db=sqlite tests/e2e/test_screenshots.py \
	  --screenshots-dir=docs/screenshots

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vulture app/ whitelist.py --min-confidence 60

clean:
	rm -rf $(VENV) instance .pytest_cache
