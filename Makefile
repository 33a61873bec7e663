# One entry point for people and CI. `make report` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
REPORTS ?= reports

.PHONY: install servers report test test-fast lint format typecheck check bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The integration tests talk to real servers: Debian's Prometheus (with promtool), VictoriaMetrics
# and the Pushgateway (what `export --pushgateway` pushes to).
servers:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v victoria-metrics >/dev/null || ! command -v prometheus-pushgateway >/dev/null; then \
		echo "installing prometheus, prometheus-pushgateway and victoria-metrics (Debian packages)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq prometheus prometheus-pushgateway victoria-metrics >/dev/null; \
		$(SUDO) systemctl disable --now prometheus prometheus-pushgateway victoria-metrics >/dev/null 2>&1 || true; \
	fi

# The weekly report on the embedded demo cluster.
report: install
	$(BIN)/kianax-capacity report --source demo --out-dir $(REPORTS)

test: install servers
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: install
	$(PY) -m pytest -q -m "not integration and not notebooks and not slow"

lint: install
	$(BIN)/ruff check kianax_capacity tests benchmarks scripts
	$(BIN)/ruff format --check kianax_capacity tests benchmarks scripts

format: install
	$(BIN)/ruff format kianax_capacity tests benchmarks scripts
	$(BIN)/ruff check --fix kianax_capacity tests benchmarks scripts

typecheck: install
	$(BIN)/mypy

# Every check: lint, format, types, the whole test suite.
check: lint typecheck test

bench: install servers
	$(PY) benchmarks/scale.py --containers 1000 --days 14

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache
