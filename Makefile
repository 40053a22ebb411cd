# painpath task runner. `make run` and `make test` are the two commands in the README.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint typecheck unit rules-check bench schemas clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

## run: evaluate the bundled example patients and print their decisions
run: venv
	$(BIN)/painpath evaluate --format text examples/patients/*.json

## test: lint, type-check, validate rules, then the whole test suite
test: venv lint typecheck rules-check unit

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: venv
	$(BIN)/mypy

rules-check: venv
	$(BIN)/painpath rules check

unit: venv
	$(BIN)/pytest -q

## bench: the engine benchmark (figures go to docs/performance.md)
bench: venv
	$(BIN)/python benchmarks/engine_bench.py

## schemas: regenerate the checked-in JSON Schemas (CI fails if they differ)
schemas: venv
	$(BIN)/python -m painpath.schemas --write

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
