# Two commands: `make demo` and `make test`. Each sets up .venv by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser demo test lint bench clean

$(STAMP): pyproject.toml package.json
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/canaria setup
	touch $(STAMP)

setup: $(STAMP)

# The browser tests drive Debian's chromium through Playwright (no browser download).
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }
	@test -x /usr/bin/chromium || { echo "chromium could not be installed (apt-get install chromium)"; exit 1; }

demo: setup
	$(BIN)/canaria demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: setup browser lint
	$(BIN)/pytest -q

# Benchmarks are measurements, not tests; bench/README.md lists them and their options.
bench: setup
	$(BIN)/python bench/runtime_roundtrip.py
	$(BIN)/python bench/judge_false_rollbacks.py
	$(BIN)/python bench/gateway_throughput.py
	$(BIN)/python bench/blast_radius.py

clean:
	rm -rf $(VENV) .canaria
