# modelops: `make help` lists the targets. `make run` and `make test` set up the environment
# themselves on a fresh machine (Pipenv, virtualenv in ./.venv).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_YES := 1
export PIPENV_NOSPIN := 1
export PIPENV_IGNORE_VIRTUALENVS := 1
# Metaflow refuses to run as an unnamed user or as `root` (CI containers); give it a name.
# `$(value X)`: a value from the environment is text, never make code (`$(shell ...)`).
ifeq ($(value METAFLOW_USER),)
export METAFLOW_USER := $(if $(filter-out root,$(value USER)),$(value USER),modelops)
endif

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced
INPUT ?= data/new_diamonds.csv
# extra flags as shell words; taken as text (not expanded by make) and split by the shell
override ARGS := $(value ARGS)
MODEL ?=
MODE ?= auto
COOLDOWN_HOURS ?= 72
LAST_RETRAIN ?=
TO ?=
PORT ?= 8000
MONITOR_OUT := monitor/predictions.csv
# Values that reach commands go through the environment and are quoted there ("$$INPUT"), never
# pasted into a recipe's text, so `TO='v0; rm -rf ~'` stays one argument. Workflows set them as
# environment variables, not `make VAR=...` arguments, which make itself would expand
# (`$(shell ...)`). ARGS is split into words by the shell, never run (`$(id)` stays text).
export INPUT MODEL MODE COOLDOWN_HOURS LAST_RETRAIN TO PORT ARGS

.PHONY: registry-env registry-event help install run train score serve monitor rollback retrain-demo test unit integration browser lint format clean image

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): Pipfile.lock
	@$(PYTHON) -m pipenv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet pipenv
	$(PYTHON) -m pipenv sync --dev
	@touch $(STAMP)

install: $(STAMP) ## Create ./.venv from Pipfile.lock (about 2 minutes on a fresh machine)

run: train score ## The main job: train and promote on the bundled diamonds data, then score new rows

train: $(STAMP) ## Run TrainFlow (extra flags: make train ARGS="--sample-rows 2000")
	$(PY) flows/train_flow.py run $$ARGS

score: $(STAMP) ## Run ScoreFlow on INPUT (default data/new_diamonds.csv)
	$(PY) flows/score_flow.py run --input "$$INPUT" --overwrite True

serve: $(STAMP) ## Serve MODEL's production model on PORT (8000): POST /predict, / (a form), /docs, /metrics
	$(PY) -m modelops serve --model-name "$$MODEL" --port "$$PORT"

monitor: $(STAMP) ## Score INPUT with MODEL, report drift, decide on a retrain (MODE=auto|report-only)
	@mkdir -p $(dir $(MONITOR_OUT))
	$(PY) flows/score_flow.py run --input "$$INPUT" --model-name "$$MODEL" \
		--output $(MONITOR_OUT) --overwrite True
	$(PY) -m modelops.monitoring decide --drift $(MONITOR_OUT:.csv=.drift.json) \
		--mode "$$MODE" --cooldown-hours "$$COOLDOWN_HOURS" --last-retrain "$$LAST_RETRAIN" \
		--retrain-data "$$RETRAIN_DATA"

# Moving an alias needs the registry CLI (click, and wandb for the W&B Registry), not the
# training stack: a light venv at the lock's versions, this package installed without its deps.
REGISTRY_VENV := .venv-registry
$(REGISTRY_VENV)/.synced: Pipfile.lock pyproject.toml $(shell find src -name '*.py' 2>/dev/null)
	$(PYTHON) -m venv --clear $(REGISTRY_VENV)
	$(PYTHON) container/lock_requirements.py --constraints Pipfile.lock $(REGISTRY_VENV)/constraints.txt
	$(REGISTRY_VENV)/bin/pip install --quiet -c $(REGISTRY_VENV)/constraints.txt click wandb
	$(REGISTRY_VENV)/bin/pip install --quiet --no-deps .
	@touch $@

registry-env: $(REGISTRY_VENV)/.synced ## The registry CLI alone (rollback, push) in ./.venv-registry

registry-event: $(REGISTRY_VENV)/.synced ## Route a W&B registry event (EVENT=<event file>) to the workflow it starts
	$(REGISTRY_VENV)/bin/python -m modelops.registry event --event "$${EVENT:?set EVENT=<event file>}" \
		--retrain-data "$$RETRAIN_DATA"

rollback: $(REGISTRY_VENV)/.synced ## Move MODEL's production alias back (to version TO=v3, or the previous one)
	$(REGISTRY_VENV)/bin/python -m modelops.registry rollback "$${MODEL:?set MODEL=<registered model name>}" $${TO:+--to "$$TO"}

retrain-demo: $(STAMP) ## The retraining loop locally: train, drift, retrain, promote if better, score
	$(PY) examples/retrain_demo.py $$ARGS

IMAGE ?= localhost/modelops
BASE_IMAGE := localhost/modelops-base:bookworm
# podman here: runc (crun refuses this machine's cgroups) and ulimits it accepts
PODMAN := podman --runtime runc --cgroup-manager=cgroupfs
PODMAN_LIMITS := --ulimit nofile=20000:20000 --ulimit nproc=4096:4096

image: $(STAMP) ## Build the image (remote steps and serve) with podman from a Debian base made here
	@command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null \
		|| { apt-get update && apt-get install -y --no-install-recommends podman runc mmdebstrap uidmap; }
	@$(PODMAN) image exists $(BASE_IMAGE) || { \
		mkdir -p container/build && \
		mmdebstrap --variant=apt --include=python3,python3-venv,ca-certificates,passwd,libgomp1 \
			bookworm container/build/rootfs.tar && \
		$(PODMAN) import container/build/rootfs.tar $(BASE_IMAGE) && rm -f container/build/rootfs.tar; }
	$(PYTHON) container/lock_requirements.py Pipfile.lock container/build/requirements.txt
	$(PYTHON) container/pip_secret.py container/build/pip.conf container/build/cert.pem
	rm -rf container/build/dist && $(PY) -m pip wheel --quiet --no-deps --no-build-isolation \
		-w container/build/dist .
	$(PODMAN) build $(PODMAN_LIMITS) -f container/Containerfile \
		--build-arg BASE=$(BASE_IMAGE) \
		--build-arg GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		--build-arg LOCK_SHA256=$$(sha256sum Pipfile.lock | cut -c1-64) \
		--secret id=pipconf,src=container/build/pip.conf \
		--secret id=pipcert,src=container/build/cert.pem \
		-t $(IMAGE):latest .
	@$(PODMAN) image inspect $(IMAGE):latest --format 'built {{.Id}}: {{.Size}} bytes'

test: lint unit integration ## The whole test suite: lint, unit tests, flow integration tests

unit: $(STAMP) ## Unit tests of the library (fast)
	$(PY) -m pytest tests/unit

integration: $(STAMP) browser ## Run both flows for real on small data (Metaflow local, W&B offline)
	$(PY) -m pytest tests/integration

browser: ## Debian's chromium + chromedriver for the page's browser test (apt-get as root; nothing downloaded by tests)
	@if command -v chromedriver >/dev/null 2>&1 && { command -v chromium || command -v google-chrome; } >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "The browser test needs chromium and chromedriver: sudo apt-get install -y chromium chromium-driver" >&2; exit 1; fi

lint: $(STAMP) ## black --check, ruff, zizmor, workflow schema; then every pre-commit hook on all files
	$(VENV)/bin/black --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/zizmor --offline --quiet .github/workflows/
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure; \
	else echo "not a git checkout: pre-commit hygiene hooks skipped"; fi

format: $(STAMP) ## Reformat with black, apply ruff's fixes, strip notebook outputs
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/black .
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean: ## Remove the environment and local run state (keeps the data)
	rm -rf $(VENV) $(REGISTRY_VENV) .pytest_cache .ruff_cache wandb
