#!/usr/bin/env bash
# Run ONE training stage of the DVC pipeline on a SkyPilot node (single- or multi-node), the same code as locally:
#   bash sky/train.sh <stage> <profile>        e.g. bash sky/train.sh pretrain gpu-h100-x8
# 1. every node: select the GPU profile in params.yaml, `dvc repro --pull` the upstream stages (pulled from the S3
#    remote or recomputed; deterministic), 2. every node: torchrun (rendezvous from SKYPILOT_* env vars) runs
#    `-m stages.<stage>`, resuming from the newest checkpoint in the mounted bucket after a preemption,
# 3. rank 0: `dvc commit` records the outputs in dvc.lock + run cache, `dvc push --run-cache` uploads them.
set -euo pipefail
STAGE="$1"
PROFILE="$2"
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv" DVC_NO_ANALYTICS=1 TOKENIZERS_PARALLELISM=false
NODE_RANK="${SKYPILOT_NODE_RANK:-0}"
NUM_NODES="${SKYPILOT_NUM_NODES:-1}"
GPUS="${SKYPILOT_NUM_GPUS_PER_NODE:-1}"
MASTER_ADDR="$(echo "${SKYPILOT_NODE_IPS:-127.0.0.1}" | head -n1)"

# The synced workdir has no .git (DVC then runs without SCM) and no .dvc/config.local (gitignored): the S3 remote
# comes from the launch (--env DVC_REMOTE_URL; credentials from the AWS secrets / instance role).
[ -d .git ] || dvc config --local core.no_scm true
if [ -n "${DVC_REMOTE_URL:-}" ]; then dvc remote add --local --default --force s3 "$DVC_REMOTE_URL"; fi
tutorforge cloud set-profile "$STAGE" "$PROFILE"                 # params.yaml: <stage>.profile = PROFILE
UPSTREAM="$(tutorforge cloud upstream "$STAGE")"                   # stages upstream of STAGE, from dvc.yaml
# shellcheck disable=SC2086
dvc repro --pull --allow-missing $UPSTREAM
dvc pull --allow-missing "$STAGE" || true                          # an earlier attempt's outputs, if pushed

torchrun --nnodes "$NUM_NODES" --node-rank "$NODE_RANK" --nproc-per-node "$GPUS" \
  --master-addr "$MASTER_ADDR" --master-port 29500 -m "stages.$STAGE"

if [ "$NODE_RANK" = "0" ]; then
  dvc commit --force "$STAGE"
  dvc push --run-cache "$STAGE"
fi
