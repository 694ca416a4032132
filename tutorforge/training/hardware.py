"""What the hardware can do: precision selection, the launcher's process layout, peak FLOP/s and MFU.

    precision = select_precision("auto")          # "bf16" on bf16-capable GPUs, "fp16" on older GPUs, else "fp32"
    TrainingArguments(..., **precision_flags(precision))
    estimate_mfu(n_params, tokens_per_s, peak_flops("NVIDIA H100 80GB HBM3"), n_devices=8)

Import-light: torch is imported inside the functions. `dist_info()` reads RANK/LOCAL_RANK/WORLD_SIZE, which
`torchrun` / `deepspeed` / `accelerate launch` set (a plain `python -m stages.X` run is one process).
"""

from __future__ import annotations

import os
from typing import TypedDict

PRECISIONS = ("auto", "bf16", "fp16", "fp32")

# Peak dense bf16 (fp16 for V100/T4) tensor-core FLOP/s per device, no sparsity; matched by substring of
# torch.cuda.get_device_name() (first match wins, so more specific names come first).
PEAK_FLOPS: list[tuple[str, float]] = [
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("V100", 125e12),
    ("T4", 65e12),
]


def check_precision(precision: str, key: str) -> None:
    """Raise ValueError naming the params `key` unless `precision` is one of PRECISIONS (config __post_init__)."""
    if precision.lower() not in PRECISIONS:
        raise ValueError(f"{key}: {precision!r} not in {list(PRECISIONS)}")


def select_precision(precision: str = "auto") -> str:
    """Resolve `auto|bf16|fp16|fp32` to a concrete one for this hardware.

    auto: CUDA with bf16 support -> bf16; older CUDA -> fp16; CPU -> fp32. Not bf16 on a CPU even when it has
    avx512_bf16: measured on the 2-core CI machine (which reports avx512_bf16), a SmolLM2-135M LoRA step at 8x256
    tokens took ~19 s in fp32 and did not finish in 8 minutes with bf16 weights or autocast. Ask for bf16 explicitly
    to try it on a CPU with AMX.
    An explicit value is returned unchanged (fp16 on CPU is refused: autocast fp16 on CPU is slow and unscaled).
    """
    precision = precision.lower()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be auto|bf16|fp16|fp32, got {precision!r}")
    import torch

    cuda = torch.cuda.is_available()
    if precision == "fp16" and not cuda:
        raise ValueError("precision fp16 needs a CUDA GPU; use bf16 or fp32 on CPU")
    if precision != "auto":
        return precision
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


class PrecisionFlags(TypedDict):
    """The mixed-precision keyword flags of transformers' TrainingArguments."""

    bf16: bool
    fp16: bool


def precision_flags(precision: str) -> PrecisionFlags:
    """TrainingArguments keyword flags (`bf16`, `fp16`) for a resolved precision (mixed precision, fp32 master weights)."""
    return PrecisionFlags(bf16=precision == "bf16", fp16=precision == "fp16")


def dist_info() -> dict[str, int | bool]:
    """rank, local_rank, world_size and is_main from the launcher's environment (1 process when not launched)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return {
        "rank": rank,
        "local_rank": int(os.environ.get("LOCAL_RANK", "0")),
        "world_size": world,
        "is_main": rank == 0,
    }


def peak_flops(device_name: str | None = None) -> float | None:
    """Peak bf16 FLOP/s of one device, by `torch.cuda.get_device_name()` (current device if None); None if unknown/CPU."""
    if device_name is None:
        import torch

        if not torch.cuda.is_available():
            return None
        device_name = torch.cuda.get_device_name()
    for key, flops in PEAK_FLOPS:
        if key.lower() in device_name.lower():
            return flops
    return None


def estimate_mfu(
    n_params: int, tokens_per_s: float, peak_flops_per_s: float | None, n_devices: int = 1
) -> float | None:
    """Model FLOPs utilisation = 6 * N * tokens/s / (peak FLOP/s * devices) (Kaplan/PaLM approximation, no attention
    term); `tokens_per_s` is the global rate over all devices. None when the peak is unknown (e.g. CPU)."""
    if not peak_flops_per_s or n_devices < 1:
        return None
    return 6.0 * n_params * tokens_per_s / (peak_flops_per_s * n_devices)
