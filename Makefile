# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, migrate the embedded SQLite store and start the API with the demo platform.
run: $(STAMP)
	$(BIN)/takedown migrate
	$(BIN)/takedown serve --demo

## Install and run every test (SQLite and PostgreSQL), then the linters.
test: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/mypy src tests
	$(BIN)/pytest

## Replay the seed case on the embedded default and print its timeline.
demo: $(STAMP)
	$(BIN)/takedown demo

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
