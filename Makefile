VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STACK := $(PYTHON) -m deploy.local.stack
PYTEST_ARGS ?=

.PHONY: venv duis-tools up down clean status test test-handlers reliability bench run

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# SmartDCC's DUIS toolkit (templates, the DCC Boxed signing tool, the parser) and its test keys.
DUIS_TOOLS := tools/duis
DUIS_NODE_STAMP := $(DUIS_TOOLS)/node_modules/.installed
DUIS_KEYS_STAMP := $(DUIS_TOOLS)/keys/.unpacked

duis-tools: $(DUIS_KEYS_STAMP)

$(DUIS_NODE_STAMP): $(DUIS_TOOLS)/package.json $(DUIS_TOOLS)/package-lock.json
	cd $(DUIS_TOOLS) && npm ci --quiet --no-audit --no-fund
	touch $(DUIS_NODE_STAMP)

$(DUIS_KEYS_STAMP): $(DUIS_NODE_STAMP) | $(STAMP)
	$(PYTHON) -m deploy.duis_tools keys

up: venv duis-tools
	$(STACK) up

down: venv
	$(STACK) down

clean: venv
	$(STACK) clean

status: venv
	$(STACK) status

test: venv duis-tools
	$(PYTHON) -m pytest tests -q -ra --strict-markers $(PYTEST_ARGS)

# Each service's handler table fed records directly, over PostgreSQL alone: no Kafka is needed.
test-handlers: venv duis-tools
	$(PYTHON) -m pytest tests/handlers -q -ra --strict-markers $(PYTEST_ARGS)

reliability: venv duis-tools
	SMI_RELIABILITY_REQUESTS=$${SMI_RELIABILITY_REQUESTS:-20000} $(PYTHON) -m pytest tests/reliability -q -ra --strict-markers $(PYTEST_ARGS)

bench: venv duis-tools
	$(PYTHON) -m tests.bench

run: up
	$(PYTHON) -m deploy.demo
