# righttime developer commands. Each target sets up what it needs: a fresh clone runs `make demo` or `make test`.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .sam-venv
BIN := $(VENV)/bin
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
# Both venvs install exact, hashed pins from requirements/*.txt; these two bootstrap them.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
export AWS_DEFAULT_REGION ?= us-east-1
# SAM CLI asks before sending telemetry; never on CI or in make.
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv local-venv sam-venv browser lock lock-upgrade lock-check demo local test lint typecheck template unit functional e2e contract bench fuzz build deploy clean

help:
	@echo "make demo      set up local mode only, replay a cart on a fixed virtual clock, show the email and why it went when"
	@echo "make local     set up local mode only, run the whole pipeline on this machine (http://127.0.0.1:3000)"
	@echo "make test      set up, then lint, type-check, validate the template and run every test"
	@echo "make bench     set up, then measure cold start, AWS calls and cost, policy speed, simulation and a 1M-event back-test (about an hour)"
	@echo "make fuzz      set up, then send local mode 10,000 hostile requests and more from the OpenAPI document; fails on any 5xx"
	@echo "make browser   install Debian's chromium and chromium-driver for the browser tests, when missing"
	@echo "make lock      regenerate the lock files after changing dependencies in pyproject.toml or requirements/sam.in"
	@echo "make keys      create the three key parameters in SSM when missing; prints the new write and admin keys"
	@echo "make build     sam build (needs python3.13 on PATH, the Lambda runtime's version)"
	@echo "make deploy    build, then sam deploy with samconfig.toml; the first time: make deploy SENDER=shop@example.com"

$(VENV)/.pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	@touch $@

$(BIN)/uv: | $(VENV)/.pip
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

# Exactly the pins of the dev lock, then righttime itself without resolving anything; a changed lock reinstalls.
# Each lock has its own marker in .venv: `make demo` (local.txt, a subset with the same pins) and `make test`
# (dev.txt) share the venv, in either order.
$(VENV)/.dev-installed: requirements/dev.txt pyproject.toml | $(VENV)/.pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(VENV)/.dev-installed

# Local mode alone (make demo, make local): righttime's dependencies and moto, no dev tool.
$(VENV)/.local-installed: requirements/local.txt pyproject.toml | $(VENV)/.pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/local.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

local-venv: $(VENV)/.local-installed

# The SAM CLI pins boto3 and pydantic of its own, so it keeps a venv (and a lock) apart from .venv.
$(SAM): requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet pip==$(PIP_VERSION)
	$(SAM_VENV)/bin/pip install --quiet --require-hashes -r requirements/sam.txt
	@touch $@

sam-venv: $(SAM)

# The browser tests (tests/e2e/browser) drive Debian's chromium through its chromedriver; installed only when
# missing, with apt-get as root (CI) or through sudo. Screenshots land in test-artifacts/screenshots.
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else \
	  echo "make browser: the browser tests need the Debian packages $(BROWSER_PACKAGES); as root, run: apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "make browser: no apt-get here; install Chromium and its chromedriver (Debian: $(BROWSER_PACKAGES)) so both are on PATH" >&2; exit 1; fi; \
	echo "make browser: installing $(BROWSER_PACKAGES) with apt-get"; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES)

# analytics.js for its browser test (tests/e2e/browser/test_analytics_js.py): exactly the hashed pins of its
# package-lock.json, installed again when the lock changes. Needs Node.js 20 and npm (and the npm registry).
.PHONY: npm-deps
NPM_DIR := tests/e2e/browser/analytics_js
npm-deps: $(NPM_DIR)/node_modules/.package-lock.json

$(NPM_DIR)/node_modules/.package-lock.json: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "make npm-deps: the analytics.js browser test needs Node.js 20 and npm on PATH" >&2; exit 1; }
	cd $(NPM_DIR) && npm ci --no-audit --no-fund
	@touch $@

# Locks are generated from pyproject.toml and requirements/sam.in by requirements/lock.py; never edit them.
# `make lock` keeps the current pins where they still fit, `make lock-upgrade` moves all to the newest.
lock: $(BIN)/uv
	$(BIN)/python requirements/lock.py --uv $(BIN)/uv

lock-upgrade: $(BIN)/uv
	$(BIN)/python requirements/lock.py --uv $(BIN)/uv --upgrade

lock-check:
	$(PYTHON) requirements/lock.py --check

demo: local-venv
	$(BIN)/righttime demo --journey events/journey-cart-abandonment.jsonl --speed 3600 --outbox outbox

local: local-venv
	$(BIN)/righttime local --port 3000 --outbox outbox

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy layers/common/righttime tools/righttime_dev functions bench

template: sam-venv
	$(CFN_LINT) template.yaml
	$(SAM) validate --lint --template template.yaml

unit: venv
	$(BIN)/pytest tests/unit -q

functional: venv
	$(BIN)/pytest tests/functional -q

e2e: venv browser npm-deps
	$(BIN)/pytest tests/e2e -q

# The in-memory and moto engines must agree on every journey (about two minutes: moto is the slow half).
contract: venv
	$(BIN)/pytest tests/contract -q

test: lock-check lint typecheck template browser npm-deps
	$(BIN)/righttime validate campaigns --templates templates
	$(BIN)/pytest -q

bench: venv
	$(BIN)/python bench/bench.py

# Property-based, against local mode over real HTTP (7 to 10 minutes): hostile bodies and broken HTTP, then
# schemathesis from the OpenAPI document (docs/api.md). Fails if any request gets a 5xx, a non-JSON answer or
# no answer, an answer the document does not declare, or if an accepted event crashes or dead-letters later.
fuzz: venv
	$(BIN)/python -m righttime_dev.fuzz --cases 10000 --examples 100

# Deploying (README, "Deploying to AWS"): `make keys`, then `make deploy SENDER=shop@example.com` the first
# time and `make deploy` after. samconfig.toml holds the defaults; STACK, REGION and PARAMS (more
# Name=value parameter overrides, e.g. PARAMS='LogLevel=INFO AlarmEmail=ops@example.com') override them.
# The region is REGION, else AWS_REGION or AWS_DEFAULT_REGION from your shell, else your AWS profile's: the
# us-east-1 this Makefile exports for local mode and moto is dropped, so it never picks an account's region.
.PHONY: keys
DEPLOY_REGION = $(or $(REGION),$(AWS_REGION),$(if $(filter file,$(origin AWS_DEFAULT_REGION)),,$(AWS_DEFAULT_REGION)))
AWS_ENV = $(if $(filter file,$(origin AWS_DEFAULT_REGION)),env -u AWS_DEFAULT_REGION)
OVERRIDES = $(strip $(if $(SENDER),SenderAddress=$(SENDER)) $(PARAMS))

keys: venv
	$(AWS_ENV) $(BIN)/python -m righttime_dev.keys $(if $(DEPLOY_REGION),--region $(DEPLOY_REGION))

# The ContentLayer's Makefile compiles the campaigns with the dev venv's Python (righttime and its pins).
build: sam-venv venv
	RIGHTTIME_ROOT=$(CURDIR) PYTHON=$(CURDIR)/$(BIN)/python $(SAM) build --template template.yaml

# Without SENDER an update keeps the stack's SenderAddress (sam deploy passes UsePreviousValue for every
# parameter not overridden); a first deploy without it fails at CloudFormation, which names the parameter.
deploy: build
	@$(if $(SENDER),:,echo "make deploy: no SENDER: the stack keeps its sender (a first deploy needs SENDER=shop@example.com)")
	$(AWS_ENV) $(SAM) deploy $(if $(STACK),--stack-name $(STACK)) $(if $(DEPLOY_REGION),--region $(DEPLOY_REGION)) \
	  $(if $(OVERRIDES),--parameter-overrides $(OVERRIDES))

clean:
	rm -rf .aws-sam outbox .pytest_cache .mypy_cache .ruff_cache
