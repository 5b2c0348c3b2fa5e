# callassist — two commands on a fresh machine:
#   make demo   create .venv if missing, install everything, run the live demo
#   make test   same set-up, then lint, type-check and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint unit integration e2e bench browser postgres kafka clean

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,train]'
	@touch $(STAMP)

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# A PostgreSQL server for the QA-store tests: machines do not start one, so install Debian's and start a
# throwaway loopback cluster when none answers (scripts/ensure-postgres.sh).
postgres:
	@bash scripts/ensure-postgres.sh

# Apache Kafka 4.x jars (java/kafka-broker/pom.xml) from Maven Central, once, into var/kafka/ (git-ignored):
# the integration tests run broker-facing tests on Kafka as well as on the embedded Tansu broker.
kafka:
	@bash scripts/fetch-kafka.sh

demo: $(STAMP)
	$(VENV)/bin/callassist demo

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline models streams assist_ui tests bench
	$(VENV)/bin/mypy

test: $(STAMP) browser postgres kafka lint
	$(VENV)/bin/pytest -q --durations=15

unit: $(STAMP)
	$(VENV)/bin/pytest -q -m unit

integration: $(STAMP) postgres kafka
	$(VENV)/bin/pytest -q -m integration

e2e: $(STAMP) browser
	$(VENV)/bin/pytest -q -m e2e

bench: $(STAMP) kafka
	$(VENV)/bin/callassist bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
