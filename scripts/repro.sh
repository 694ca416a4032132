#!/usr/bin/env bash
# Quickstart command 1: install everything into .venv/ and rebuild the whole pipeline on the embedded default
# (bundled sample textbooks, CPU, offline, no servers). Extra arguments go to `dvc repro` (e.g. a stage name).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# dvc.yaml commands call `python`: make it the venv's.
export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false DVC_NO_ANALYTICS=1
.venv/bin/dvc repro "$@"
.venv/bin/dvc metrics show
