"""Cloud training before spending money: offline checks of the SkyPilot YAMLs in sky/ and a size/time/cost plan.

    tutorforge cloud plan --yaml sky/pretrain.yaml --profile gpu-h100-x8
    tutorforge cloud check sky/pretrain.yaml sky/sft.yaml

Plan arithmetic (ASSUMPTIONS, stated in params [cloud]): N = parameters of the preset at the tokenizer's vocab size
(Llama shapes from tutorforge/training/pretrain.py); tokens = max_steps x batch_size x grad_accum x block (max_length
for SFT) x GPUs (num_nodes x GPUs per node), read from the stage's config with the profile selected (core.config
merges it); training FLOPs = 6 N tokens (x sft_flops_factor for SFT); GPU-hours = FLOPs / (peak dense bf16 FLOP/s x
MFU) / 3600; cost = GPU-hours x USD per GPU-hour (on-demand and spot, prices dated).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field

from tutorforge.core.config import PositiveFloat, load_config, read_params, section, section_config

ROOT = Path(__file__).resolve().parents[2]  # the repository (tutorforge/orchestration/skypilot.py)
SKY_PYTHON = ROOT / ".venv" / "opt" / "skypilot" / "bin" / "python"
TRAIN_STAGES = ("pretrain", "sft")
SECRET_NAMES = re.compile(r"(TOKEN|SECRET|PASSWORD|API_KEY|ACCESS_KEY)", re.I)
Utilisation = Annotated[float, Field(gt=0, le=1)]  # a share of peak; 0 would divide by zero in the plan


@section("cloud")
@dataclass
class CloudConfig:
    yaml: str = "sky/pretrain.yaml"
    """Default SkyPilot task YAML for `tutorforge cloud plan`."""
    mfu: Utilisation = 0.4
    """Assumed model FLOPs utilisation (share of peak dense bf16)."""
    sft_flops_factor: PositiveFloat = 1.0
    """SFT FLOPs per token as a multiple of 6N (LoRA still back-propagates through the frozen base)."""
    prices_as_of: str = (
        "2025-06, AWS us-east-1, per GPU-hour (instance price / GPUs); check `sky show-gpus --cloud aws`"
    )
    """Where and when the prices below were read."""
    gpus: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "H100": {"tflops": 989, "on_demand": 6.88, "spot": 3.50},  # p5.48xlarge
            "H200": {"tflops": 989, "on_demand": 7.91, "spot": 4.00},  # p5en.48xlarge
            "A100-80GB": {"tflops": 312, "on_demand": 3.43, "spot": 1.80},  # p4de.24xlarge
            "A100": {"tflops": 312, "on_demand": 2.75, "spot": 1.50},  # p4d.24xlarge
            "L4": {"tflops": 121, "on_demand": 0.80, "spot": 0.40},  # g6.xlarge
            "A10G": {"tflops": 70, "on_demand": 1.01, "spot": 0.45},  # g5.xlarge
        }
    )
    """GPU name -> {tflops: peak dense bf16, on_demand: USD/GPU-h, spot: USD/GPU-h}."""


def llama_params(preset: dict[str, Any], vocab_size: int) -> int:
    """Parameters of a Llama config (embeddings, attention with GQA, SwiGLU MLP, RMSNorms, untied head if any)."""
    h, n_layers, inter = preset["hidden_size"], preset["num_hidden_layers"], preset["intermediate_size"]
    heads = preset["num_attention_heads"]
    kv = preset.get("num_key_value_heads", heads)
    head_dim = h // heads
    attn = 2 * h * h + 2 * h * kv * head_dim
    layer = attn + 3 * h * inter + 2 * h
    emb = vocab_size * h * (1 if preset.get("tie_word_embeddings", True) else 2)
    return emb + n_layers * layer + h


def sky_resources(task: dict[str, Any]) -> tuple[list[tuple[str, int]], int, bool]:
    """([(gpu, count), ...] candidates, num_nodes, use_spot) from a task YAML's resources."""
    res = task.get("resources") or {}
    acc = res.get("accelerators")
    if isinstance(acc, str):
        name, _, n = acc.partition(":")
        cands = [(name, int(n or 1))]
    elif isinstance(acc, dict):  # {H100: 8} or YAML's reading of {H100:8}: {"H100:8": None}
        cands = [(str(k).partition(":")[0], int(v or str(k).partition(":")[2] or 1)) for k, v in acc.items()]
    elif isinstance(acc, list):
        cands = [(a.partition(":")[0], int(a.partition(":")[2] or 1)) for a in acc]
    else:
        cands = []
    return cands, int(task.get("num_nodes") or 1), bool(res.get("use_spot", False))


def stage_of(task: dict[str, Any]) -> str:
    """The training stage a task YAML runs (`bash sky/train.sh <stage> ...` in `run`)."""
    m = re.search(r"sky/train\.sh\s+(\w+)", task.get("run") or "")
    if not m:
        raise ValueError("task `run` does not call `bash sky/train.sh <stage> <profile>`")
    return m.group(1)


def stage_config(params_path: str | Path, stage: str, profile: str | None) -> Any:
    """The validated config of a training stage with `profile` selected (None = the profile params.yaml selects)."""
    overrides = [f"{stage}.profile={profile}"] if profile else []
    return load_config(section_config(stage), stage, params_path, overrides)


def plan(task_yaml: str | Path, params_path: str | Path = "params.yaml", profile: str | None = None) -> dict[str, Any]:
    """Size, tokens, GPU-hours and cost for each accelerator candidate of a task YAML (nothing launched)."""
    from tutorforge.training.pretrain import PRESETS

    task = yaml.safe_load(Path(task_yaml).read_text(encoding="utf-8"))
    cloud = load_config(CloudConfig, "cloud", params_path)
    stage = stage_of(task)
    profile = profile or (task.get("envs") or {}).get("PROFILE")
    cfg = stage_config(params_path, stage, profile)
    if stage == "pretrain":
        pre = cfg
    else:  # SFT's base model is the pretrained preset of the pretrain profile of the same name if any
        pre_profiles = stage_config(params_path, "pretrain", None).profiles
        pre = stage_config(params_path, "pretrain", profile if profile in pre_profiles else None)
    vocab = int(load_config(section_config("tokenizer"), "tokenizer", params_path).vocab_size)
    n_params = llama_params({**PRESETS[pre.preset], **(pre.model or {})}, vocab)
    seq = int(cfg.block_size if stage == "pretrain" else cfg.max_length)
    steps = int(cfg.max_steps)
    if steps < 0:
        raise ValueError(f"{stage}.max_steps is -1 (epochs only): set max_steps for a plan")
    factor = 1.0 if stage == "pretrain" else cloud.sft_flops_factor
    cands, nodes, spot = sky_resources(task)
    rows = []
    for gpu, per_node in cands:
        if gpu not in cloud.gpus:
            raise ValueError(f"no throughput/price assumption for GPU {gpu!r} in params [cloud].gpus")
        g = cloud.gpus[gpu]
        world = nodes * per_node
        tokens = steps * int(cfg.batch_size) * int(cfg.grad_accum) * seq * world
        flops = 6.0 * n_params * tokens * factor
        gpu_hours = flops / (g["tflops"] * 1e12 * cloud.mfu) / 3600.0
        rows.append(
            {
                "gpu": gpu,
                "gpus": world,
                "nodes": nodes,
                "tokens": tokens,
                "flops": flops,
                "gpu_hours": gpu_hours,
                "wall_hours": gpu_hours / world,
                "cost_on_demand": gpu_hours * g["on_demand"],
                "cost_spot": gpu_hours * g["spot"],
            }
        )
    return {
        "yaml": str(task_yaml),
        "stage": stage,
        "profile": cfg.profile,
        "preset": pre.preset,
        "vocab_size": vocab,
        "params": n_params,
        "steps": steps,
        "seq_len": seq,
        "use_spot": spot,
        "mfu": cloud.mfu,
        "prices_as_of": cloud.prices_as_of,
        "options": rows,
    }


# --- offline YAML checks ----------------------------------------------------------------------------------------


def known_accelerators(params_path: str | Path = "params.yaml") -> set[str]:
    """GPU names we have assumptions for (params [cloud].gpus) plus the names tutorforge.training.hardware knows."""
    from tutorforge.training.hardware import PEAK_FLOPS

    cloud = load_config(CloudConfig, "cloud", params_path)
    return set(cloud.gpus) | {n.replace(" ", "-") for n, _ in PEAK_FLOPS} | {"A100-80GB"}


def check_task(
    task_yaml: str | Path, params_path: str | Path = "params.yaml", dvc_yaml: str | Path = "dvc.yaml"
) -> list[str]:
    """What SkyPilot's schema does not catch: accelerator names, s3:// sources, stage/profile names, secret values."""
    from tutorforge.orchestration.dvc_runner import load_stages

    problems: list[str] = []
    task = yaml.safe_load(Path(task_yaml).read_text(encoding="utf-8")) or {}
    params = read_params(params_path)
    known = known_accelerators(params_path)
    cands, nodes, _ = sky_resources(task)
    if not cands:
        problems.append("resources.accelerators missing (a training task needs GPUs)")
    problems += [f"unknown accelerator {g!r} (known: {sorted(known)})" for g, _ in cands if g not in known]
    for dst, src in (task.get("file_mounts") or {}).items():
        source = src.get("source") if isinstance(src, dict) else src
        if isinstance(source, str) and "://" in source and not source.startswith("s3://"):
            problems.append(f"file_mounts {dst}: source {source!r} is not an s3:// URL")
        if isinstance(src, dict) and src.get("mode") not in (None, "MOUNT", "MOUNT_CACHED", "COPY"):
            problems.append(f"file_mounts {dst}: mode {src.get('mode')!r}")
    if re.search(r"\bvllm serve\b", task.get("run") or ""):  # sky/serve.yaml: a model server, no training stage
        return problems + secret_problems(task)
    try:
        stage = stage_of(task)
    except ValueError as e:
        return problems + [str(e)]
    if stage not in load_stages(dvc_yaml):
        problems.append(f"run names stage {stage!r}, which is not in {dvc_yaml}")
    elif stage not in params:
        problems.append(f"params has no [{stage}] section")
    profile = (task.get("envs") or {}).get("PROFILE")
    if not profile:
        problems.append("envs.PROFILE (the GPU profile) is missing")
    elif stage in params and profile not in (params[stage].get("profiles") or {}):
        problems.append(
            f"envs.PROFILE {profile!r} not in {stage}.profiles {sorted(params[stage].get('profiles') or {})}"
        )
    if not any(f"/artifacts/{stage}/checkpoints" in str(d) for d in (task.get("file_mounts") or {})):
        problems.append(f"no bucket mounted at artifacts/{stage}/checkpoints (spot recovery needs it)")
    return problems + secret_problems(task)


def secret_problems(task: dict[str, Any]) -> list[str]:
    """Secret values written into a task YAML (envs named like secrets, or `secrets:` that are not null)."""
    problems: list[str] = []
    for key, val in (task.get("envs") or {}).items():
        if SECRET_NAMES.search(key) and val not in (None, ""):
            problems.append(f"envs.{key} holds a value: secrets go in `secrets:` with null, passed at launch")
    secrets = task.get("secrets") or {}
    if isinstance(secrets, dict):
        problems += [f"secrets.{k} holds a value in the YAML" for k, v in secrets.items() if v not in (None, "")]
    return problems


def sky_validate(paths: Sequence[str | Path], sky_python: str | Path = SKY_PYTHON) -> tuple[bool, str]:
    """SkyPilot's own offline schema check (`sky.Task.from_yaml`) in its venv; (ok, output)."""
    if not Path(sky_python).exists():
        return False, f"{sky_python} missing: run `TF_WITH_SERVERS=1 bash scripts/bootstrap.sh`"
    code = (
        "import sys, sky\nfor p in sys.argv[1:]:\n    t = sky.Task.from_yaml(p)\n"
        "    print(p, 'nodes', t.num_nodes, sorted(str(r) for r in t.resources))\n"
    )
    r = subprocess.run(
        [str(sky_python), "-c", code, *map(str, paths)], capture_output=True, text=True, cwd=str(ROOT), timeout=300
    )
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def plan_table(p: dict[str, Any]) -> str:
    """The plan as plain text lines."""
    lines = [
        f"{p['yaml']}: stage {p['stage']}, profile {p['profile']}, preset {p['preset']} = "
        f"{p['params'] / 1e6:.1f}M params (vocab {p['vocab_size']}), {p['steps']} steps x seq {p['seq_len']}",
        f"assumptions: 6*N FLOPs/token, MFU {p['mfu']:.0%} of peak dense bf16; prices {p['prices_as_of']}",
    ]
    for r in p["options"]:
        lines.append(
            f"  {r['nodes']}x node, {r['gpus']:>3} x {r['gpu']:<10} tokens {r['tokens'] / 1e9:8.3f}B  "
            f"GPU-h {r['gpu_hours']:9.2f}  wall {r['wall_hours']:7.2f} h  on-demand ${r['cost_on_demand']:,.2f}"
            f"  spot ${r['cost_spot']:,.2f}"
        )
    return "\n".join(lines)


def which_sky() -> str:
    exe = ROOT / ".venv" / "opt" / "skypilot" / "bin" / "sky"
    return str(exe) if exe.exists() else (shutil.which("sky") or "sky")
