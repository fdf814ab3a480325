# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install demo bench clean translations catalogues

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Compile the reporters' translations (src/takedown/locale/*/LC_MESSAGES/takedown.po).
## After changing a page or an e-mail: `make catalogues` extracts and updates them.
LOCALE := src/takedown/locale
translations: $(STAMP)
	$(BIN)/pybabel -q compile -d $(LOCALE) -D takedown

catalogues:
	$(BIN)/pybabel extract -F babel.cfg -o $(LOCALE)/takedown.pot --no-location \
	  -k n_:1,2 --project takedown --omit-header src/takedown
	$(BIN)/pybabel update -i $(LOCALE)/takedown.pot -d $(LOCALE) -D takedown --no-fuzzy-matching

install: $(STAMP) translations

## Install, migrate the embedded SQLite store and start the API with the demo platform
## (`make run PORT=8080 HOST=0.0.0.0` to listen elsewhere).
run: $(STAMP) translations
	$(BIN)/takedown migrate
	$(BIN)/takedown serve --demo $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

## Debian's chromium drives the console's browser tests (Playwright, no browser download).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null && (apt-get update -qq && apt-get install -y -qq chromium) \
	  || echo "chromium not installed: the browser tests will be skipped"

## Install and run every test (SQLite and PostgreSQL), then the linters.
test: $(STAMP) $(CHROMIUM) translations
	$(BIN)/ruff check
	$(BIN)/mypy src tests bench
	$(BIN)/pytest

## Replay the seed case on the embedded default and print its timeline.
demo: $(STAMP)
	$(BIN)/takedown demo

## Benchmarks, each beside its baseline (minutes; figures go to docs/performance.md).
bench: $(STAMP)
	$(BIN)/python -m bench.hash_bench --video
	$(BIN)/python -m bench.intake_bench
	$(BIN)/python -m bench.matching_bench
	$(BIN)/python -m bench.index_bench --sizes 1000000 10000000
	$(BIN)/python -m bench.sweep_bench
	$(BIN)/python -m bench.vpdq_bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
