#!/usr/bin/env bash
# Quickstart command 2: install everything (the Label Studio server and SkyPilot in their own venvs under .venv/opt/)
# and run the linters (ruff, ruff format, pyright in basic mode, params check) and the whole test suite, which starts and stops real servers itself
# (Label Studio, Prefect API, moto's S3 server, tesseract). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
TF_WITH_SERVERS=1 bash scripts/bootstrap.sh
# dvc.yaml commands call `python`: make it the venv's.
export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false DVC_NO_ANALYTICS=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pyright
.venv/bin/tutorforge params check
.venv/bin/python -m pytest -p no:cacheprovider --timeout 1200 "$@"
