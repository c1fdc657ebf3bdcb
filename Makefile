# The two commands a person needs: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.12; develop and test on the same minor version. pyenv's shim for python3.12
# fails when another version is global, so probe candidates until one really runs.
PYTHON_CANDIDATES := python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) /usr/bin/python3.12 /usr/local/bin/python3.12
BASE_PYTHON ?= $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c 'import sys' >/dev/null 2>&1 && echo $(p))))

VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam

.PHONY: help demo test lint typecheck template-check pytest bench bench-quick fmt clean build

help:
	@echo "make demo   run one complete backup here (Aiven simulator, moto, the real state machine)"
	@echo "make test   lint, type-check, template checks and the whole test suite"
	@echo "make bench  throughput and memory benchmark against peers (bench/README.md)"
	@echo "make bench-quick  the Lambda profile at 256 MiB, one round (about 2 minutes)"
	@echo "make build  sam build (needs python3.12 on PATH)"

$(VENV)/.installed: requirements-dev.txt layers/core/requirements.txt
	@test -n "$(BASE_PYTHON)" || { echo "python3.12 not found: install it (pyenv install 3.12) or set BASE_PYTHON=/path/to/python3.12"; exit 2; }
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# SAM CLI pins boto3 and click exactly, so it lives in a virtual environment of its own.
$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(BASE_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

demo: $(VENV)/.installed
	@scripts/ensure-influxdb || echo "influxd could not be installed: the demo serves the built-in sample backup"
	$(PY) -m local_runner --output demo-backup.tar

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

template-check: $(VENV)/.installed $(SAM_VENV)/.installed
	$(SAM) validate --lint --template template.yaml
	$(SAM_VENV)/bin/python tests/tools/lint_translated_template.py template.yaml

# The structural template tests translate template.yaml with the SAM CLI's translator. The run
# ends with the least-privilege check of every AWS call the handlers made (README, Development).
pytest: $(VENV)/.installed $(SAM_VENV)/.installed
	scripts/ensure-influxdb
	$(PY) -m pytest -n 2

test: lint typecheck template-check pytest

build: $(SAM_VENV)/.installed
	PATH="$(dir $(BASE_PYTHON)):$$PATH" $(SAM) build

bench: $(VENV)/.installed
	$(PY) -m bench

# For use while changing the copier: the Lambda profile (https, null sink, 0.58 and 1.0 vCPU),
# 256 MiB, one round, no 4 GiB run; its results JSON goes to a scratch folder, not bench/results.
# It measures layers/core as it is in the working tree (COPIER_REF=HEAD: as committed).
COPIER_REF ?= worktree
bench-quick: $(VENV)/.installed
	$(PY) -m bench --profile lambda --size-mib 256 --repeat 1 --large-size-mib 0 --cpu-quotas 0.58,1.0 \
		--copier-ref $(COPIER_REF) \
		--out-dir $${TMPDIR:-/tmp}/aiven-backup-bench/results

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache .pytest_cache
