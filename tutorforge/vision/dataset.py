"""The `diagrams` stage: procedural school diagrams (tutorforge/vision/diagrams) -> PNGs + records, split by family.

    cfg = load_config(DiagramsConfig)                      # params.yaml [diagrams] + seed + serve.models3d
    report = build_diagrams(cfg, out_folder)     # out: images/, train.jsonl, validation.jsonl, test.jsonl

One record (test.jsonl):

    {"id": "series_circuit-s41-y2", "image": "images/series_circuit-s41-y2.png", "split": "test",
     "label": "series_circuit", "subject": "physics", "model_id": "electric_circuit", "family": "series_circuit-s41",
     "seed": 41, "style": 2, "source": "procedural",
     "caption": "Figure 7.3: A series circuit with one cell and 3 resistors in a single loop.",
     "facts": {"cells": 1, "resistors": 3}, "qa": [...], "recommendation": {"request": "...", "model_id": ...}}

A *family* is one drawn variant (label + seed) in every style: the split hashes the family, so a held-out image is a
variant no training image shows in any style (a split by image would leak its style twins into training).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorforge.core.config import PositiveInt, section
from tutorforge.core.io import write_jsonl
from tutorforge.core.logs import get_logger, progress
from tutorforge.core.outputs import OutputSet
from tutorforge.vision.models3d import DEFAULT_MODELS3D

log = get_logger("diagrams")
SPLITS = ("train", "validation", "test")


@section("diagrams")
@dataclass
class DiagramsConfig:
    output: str = "artifacts/diagrams"
    """Output folder: images/ (one PNG per record), train.jsonl, validation.jsonl, test.jsonl, report.json."""
    labels: list[str] = field(default_factory=list)
    """Diagram labels to draw ([] = every label of tutorforge/vision/diagrams/catalogue.py)."""
    families_per_label: PositiveInt = 60
    """Variants (seeds) drawn per label; each is drawn once in every style of `styles`."""
    styles: list[int] = field(default_factory=lambda: [0, 1, 2])
    """Drawing styles: 0 line art, 1 colour fills, 2 labelled textbook layout (figure caption bar, part labels)."""
    image_size: PositiveInt = 224
    """Square PNG side in pixels (encoders resize to their own input size)."""
    split_ratios: dict[str, float] = field(default_factory=lambda: {"train": 0.7, "validation": 0.1, "test": 0.2})
    """Share of families per split, by a hash of (seed, family): a family never spans two splits."""
    seed: int = 1337
    """Shared seed: which families are held out (the drawings themselves depend only on label + family seed)."""
    models3d: dict[str, dict] = field(
        default_factory=lambda: dict(DEFAULT_MODELS3D), metadata={"params_from": "serve.models3d"}
    )
    """The 3D catalogue (model id -> asset + animations) the records recommend from: read from serve.models3d, the
    catalogue the served tutor shows."""

    def __post_init__(self) -> None:
        if set(self.split_ratios) != set(SPLITS) or any(v < 0 for v in self.split_ratios.values()):
            raise ValueError(
                f"diagrams.split_ratios: needs non-negative train, validation, test (got {self.split_ratios})"
            )
        if abs(sum(self.split_ratios.values()) - 1.0) > 1e-6:
            raise ValueError(f"diagrams.split_ratios: must sum to 1 (got {sum(self.split_ratios.values())})")
        if not self.styles or any(s not in (0, 1, 2) for s in self.styles) or len(set(self.styles)) != len(self.styles):
            raise ValueError(f"diagrams.styles: distinct values of 0, 1, 2 (got {self.styles})")
        from tutorforge.vision.diagrams import KINDS

        if unknown := sorted(set(self.labels) - set(KINDS)):
            raise ValueError(f"diagrams.labels: unknown {unknown}; known: {list(KINDS)}")


def split_of(family: str, seed: int, ratios: Mapping[str, float]) -> str:
    """The split a family belongs to: a stable hash of (seed, family) mapped onto the cumulative ratios."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{family}".encode()).digest()[:8], "big") / 2**64
    edge = 0.0
    for name in SPLITS:
        edge += ratios[name]
        if h < edge:
            return name
    return SPLITS[-1]


def check_catalogue(models3d: Mapping[str, Mapping[str, Any]]) -> None:
    """Every model id the diagram labels recommend needs a 3D catalogue entry with animations (serve.models3d)."""
    from tutorforge.vision.diagrams import MODEL_IDS

    if missing := sorted(set(MODEL_IDS) - set(models3d)):
        raise ValueError(f"serve.models3d: no entry for the diagram model ids {missing}")
    for mid in MODEL_IDS:
        if not models3d[mid].get("animations"):
            raise ValueError(f"serve.models3d.{mid}: needs at least one animation")


def build_diagrams(cfg: DiagramsConfig, out: Path | OutputSet) -> dict[str, Any]:
    """Draw every (label, family, style), write the PNGs and the split records into `out`; returns the report."""
    from tutorforge.vision.diagrams import KINDS, render, sample_records

    check_catalogue(cfg.models3d)
    labels = cfg.labels or list(KINDS)
    seeds = list(range(cfg.families_per_label))
    records = sample_records(labels, seeds, cfg.styles, cfg.models3d)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for rec in progress(records, "drawing diagrams", logger=log):
        image, _ = render(rec["label"], rec["seed"], rec["style"], size=cfg.image_size)
        image.save(images / f"{rec['id']}.png", format="PNG")
        split = split_of(rec["family"], cfg.seed, cfg.split_ratios)
        by_split[split].append({**rec, "image": f"images/{rec['id']}.png", "split": split, "source": "procedural"})
    for split, recs in by_split.items():
        write_jsonl(out / f"{split}.jsonl", recs)
    families = {s: len({r["family"] for r in recs}) for s, recs in by_split.items()}
    report = {
        "labels": len(labels),
        "subjects": dict(sorted(Counter(KINDS[lb].subject for lb in labels).items())),
        "styles": cfg.styles,
        "images": {s: len(r) for s, r in by_split.items()},
        "families": families,
        "image_size": cfg.image_size,
        "per_label_test": dict(sorted(Counter(r["label"] for r in by_split["test"]).items())),
    }
    log.info("diagrams: %s images (%s families) in %s", report["images"], families, cfg.output)
    return report
