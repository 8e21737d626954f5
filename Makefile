# Two commands for a fresh machine:
#   make demo   create .venv, install, run the whole pipeline offline (dvc repro), write reports/index.html
#   make test   create or reuse .venv and run the test suite
#   make ablations   SuperCorrect vs Step-DPO vs CoT SFT as DVC experiments (docs/ablations.md); QUICK=1 for CI
#   make gpu-smoke   on a CUDA machine: install vLLM, run a tiny bf16 pipeline with vLLM rollouts
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
# Each module's .pyc is written into .venv on its first import. Where PYTHONDONTWRITEBYTECODE is
# set (it is on this machine) every stage process would compile torch, transformers and the rest
# again; compiling all of them at install time (uv's --compile-bytecode) instead cost about 50 s on
# 2 cores, most of it for files the pipeline never imports (docs/install.md).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo ablations test install lock params plots mlflow-ui clean mlflow-server prefect-server worker gpu-smoke

# The locks (docs/install.md): every package pinned with hashes, resolved by `make lock` from
# pyproject.toml. requirements.lock has CPU torch (this venv, the CPU image); requirements-cuda.lock
# has PyPI's CUDA torch (the GPU image).
LOCK_DIR ?= .
LOCK ?= requirements.lock
# uv installs from the lock; when it is not on PATH, pip bootstraps it into the venv (the version
# the lock pins, so `uv pip sync` keeps it).
UV ?= uv
UV_VERSION = $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements.lock)
BOOTSTRAP_UV = command -v $(UV) >/dev/null || { test -x $(PY) || python3 -m venv $(VENV); $(PY) -m pip install -q uv$(if $(UV_VERSION),==$(UV_VERSION)) 2>&1 | { grep -v "^WARNING: Location" || true; }; }
# torch==2.13.0+cpu is not on PyPI. uv looks for it where pip's find-links point (on this machine
# a wheel directory on disk), else on PyTorch's CPU index page.
TORCH_CPU_LINKS ?= $(or $(PIP_FIND_LINKS),$(shell python3 -m pip config get global.find-links 2>/dev/null),https://download.pytorch.org/whl/cpu/torch/)
LOCK_FLAGS = --all-extras --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--custom-compile-command "make lock" --quiet $(UPGRADE)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(BOOTSTRAP_UV)
	test -x $(PY) || $(UV) venv -q --python 3.11 $(VENV)
	$(UV) pip sync -q --python $(PY) --require-hashes \
		$(addprefix --find-links ,$(TORCH_CPU_LINKS)) $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e .
	touch $@

# Re-resolve both locks after editing pyproject.toml; existing pins are kept where they still fit
# (make lock UPGRADE=--upgrade moves everything to the newest releases).
lock:
	$(BOOTSTRAP_UV)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(addprefix --find-links ,$(TORCH_CPU_LINKS)) \
		-o $(LOCK_DIR)/requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) -o $(LOCK_DIR)/requirements-cuda.lock

# params.yaml is generated from supercorrect/config.py (defaults and comments live there).
params: install
	$(PY) -m supercorrect.params_file params.yaml

demo: install
	dvc repro --quiet   # no "git add dvc.lock" / "dvc push" hints; stages print their own summaries
	@$(PY) -m supercorrect.report
	@echo "Next: open reports/index.html; make plots (dvc plots, offline); make mlflow-ui (it prints the runs' address)"

# Every variant at every seed of the profile as a DVC experiment, then metrics/ablations.json and
# plots/ablations.png. Queued experiments start from the last commit: commit your changes first.
# One torch thread per process unless set: on a busy 2-core box two threads stall on each other
# (docs/ablations.md).
ablations: install
	OMP_NUM_THREADS=$(or $(OMP_NUM_THREADS),1) MKL_NUM_THREADS=$(or $(MKL_NUM_THREADS),1) \
		supercorrect compare $(if $(QUICK),--quick)

# `dvc plots diff` (the workspace against HEAD) with vega inlined: DVC's own page loads it from a CDN.
plots: install
	@$(PY) -m supercorrect.report --dvc-template .dvc/tmp/plots_offline.html
	dvc plots diff --html-template $(abspath .dvc/tmp/plots_offline.html)

test: install
	$(PY) -m pytest

# First the address to open: MLflow 3.17 opens a bare experiment address on its GenAI overview,
# the printed one on the experiment's runs (supercorrect.tracking.UI_VIEW).
mlflow-ui: install
	@MLFLOW_TRACKING_URI=sqlite:///mlflow.db $(PY) -m supercorrect.tracking
	$(PY) -m mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

# Operations (README "Operations", docs/operations.md): each in its own terminal.
mlflow-server: install   ## MLflow tracking server; settings from the environment (mlflow/server.sh)
	bash mlflow/server.sh

prefect-server: install  ## Prefect server and UI on http://127.0.0.1:4200
	prefect server start --host 127.0.0.1 --port 4200

POOL ?= cpu
worker: install          ## a process worker: make worker POOL=cpu | make worker POOL=gpu
	prefect worker start --pool $(POOL) --type process

# GPU smoke run (bench/gpu_smoke.py): the GPU check comes first, so a machine without one stops
# at once with one line, before anything is installed. vLLM brings the CUDA torch build it pins.
gpu-smoke:
	@python3 -m bench.gpu_smoke --check
	$(MAKE) install
	$(PY) -m pip install -q vllm
	$(PY) -m bench.gpu_smoke

clean:
	rm -rf data models metrics plots reports dvc_plots mlflow.db mlruns mlartifacts .dvc/cache .dvc/tmp
