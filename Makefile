# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chat lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the bot (console chat when no bot token is configured). Migrates the database first
## and loads the demo org tree into an empty database.
run: $(STAMP)
	$(BIN)/nqbot org demo
	$(BIN)/nqbot run

## Install (if needed) and run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest -q

chat: $(STAMP)
	$(BIN)/nqbot chat

lint: $(STAMP)
	$(BIN)/ruff check .

## Benchmarks (figures in benchmarks/README.md): the bench extra when pyproject.toml has one.
bench: $(STAMP)
	@if grep -q '^bench *= *\[' pyproject.toml; then \
		$(BIN)/python -m pip install --quiet -e '.[dev,bench]'; fi
	$(BIN)/python benchmarks/qa_eval.py
	$(BIN)/python benchmarks/qa_scale.py

clean:
	rm -rf $(VENV) .pytest_cache
