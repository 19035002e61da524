# spinecare: every target creates the environment it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint bench mutate system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	./scripts/ensure-system-deps.sh

run: $(STAMP)
	$(BIN)/spinecare serve

test: $(STAMP) system-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow and not postgres and not browser"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

# Mutation testing of the safety policy and the guarding reaction (several minutes; not in
# `make test`): writes bench/mutation.md.
mutate: $(STAMP)
	nice -n 10 $(BIN)/python scripts/mutate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
