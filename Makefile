VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STACK := $(PYTHON) -m deploy.local.stack
PYTEST_ARGS ?=

.PHONY: venv up down clean status test reliability bench run

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: venv
	$(STACK) up

down: venv
	$(STACK) down

clean: venv
	$(STACK) clean

status: venv
	$(STACK) status

test: venv
	$(PYTHON) -m pytest tests -q -ra --strict-markers $(PYTEST_ARGS)

reliability: venv
	SMI_RELIABILITY_REQUESTS=$${SMI_RELIABILITY_REQUESTS:-20000} $(PYTHON) -m pytest tests/reliability -q -ra --strict-markers $(PYTEST_ARGS)

bench: venv
	$(PYTHON) -m tests.bench

run: up
	$(PYTHON) -m deploy.demo
