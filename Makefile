# painpath task runner. `make run` and `make test` are the two commands in the README.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv node-deps run examples test lint typecheck unit rules-check browser-deps bench bench-http bench-audit schemas questionnaire clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# The FHIR validators the tests use (FHIR.js and HL7's R4 JSON schema), pinned by the lock file.
NODE_DIR   := tests/support/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

node-deps: $(NODE_STAMP)

## run: the HTTP service on http://127.0.0.1:8000 (SQLite decision log under ./data, created on first start)
run: venv
	$(BIN)/painpath serve

## examples: evaluate the bundled example patients with the CLI and print their decisions
examples: venv
	$(BIN)/painpath evaluate --format text examples/patients/*.json

## test: lint, type-check, validate rules, install the browser tests' needs, then the whole test suite
test: venv lint typecheck rules-check browser-deps unit

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: venv
	$(BIN)/mypy

rules-check: venv
	$(BIN)/painpath rules check

unit: venv browser-deps node-deps
	$(BIN)/pytest -q

## browser-deps: what the browser tests need (Debian's chromium and chromium-driver, the pinned axe-core); idempotent
browser-deps:
	scripts/ci-browser.sh

## bench: the engine benchmark (figures go to docs/performance.md)
bench: venv
	$(BIN)/python benchmarks/engine_bench.py

## bench-http: the HTTP load benchmark (starts its own server on loopback)
bench-http: venv
	$(BIN)/python benchmarks/http_load.py

## bench-audit: the audit benchmark (100,000 synthetic patients, both cores; figures in docs/performance.md)
bench-audit: venv
	$(BIN)/python benchmarks/audit_bench.py

## schemas: regenerate the checked-in JSON Schemas (CI fails if they differ)
schemas: venv
	$(BIN)/python -m painpath.schemas --write

## questionnaire: regenerate fhir/Questionnaire-painpath-msk.json from the question catalogue (a test fails if it differs)
questionnaire: venv
	$(BIN)/python -m painpath.fhir --write

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(NODE_DIR)/node_modules
