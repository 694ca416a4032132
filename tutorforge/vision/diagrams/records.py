"""Rendering diagrams and making their records (caption, facts, questions, 3D-model recommendation).

    image, facts = render("human_heart", seed=17, style=2)                    # 224 x 224 RGB + the facts drawn
    records = sample_records(LABELS, range(20), (0, 1, 2), params["serve"]["models3d"])

Deterministic: the same (label, seed, style, size) gives identical image bytes (for one Pillow build). The variant (what is
drawn, hence the facts) comes from a random.Random seeded by a SHA-256 of (label, seed), so every style of one seed
draws the same variant: a *family* (`family` = "<label>-s<seed>"), which a dataset split must keep on one side.
The placement jitter and tint come from (label, seed, style), the caption/QA/recommendation wording from
(label, seed, style, "text"); Python's hash() is never used.

A record (`sample_records(["human_heart"], [17], [2], models3d)`, as it comes out):

    {"id": "human_heart-s17-y2", "label": "human_heart", "subject": "biology", "model_id": "human_heart",
     "family": "human_heart-s17", "seed": 17, "style": 2,
     "caption": "Figure 3.4: The human heart with four chambers and blood-flow arrows, showing the left and right
                 ventricles.",
     "facts": {"chambers": 4, "vessels": ["aorta", "pulmonary artery", "superior vena cava", "pulmonary veins"],
               "valves_drawn": true, "blood_flow_arrows": true},
     "qa": [{"question": "What does this diagram show?", "answer": "It shows the human heart; it is a biology diagram."},
            {"question": "Which blood vessels are drawn?",
             "answer": "the aorta, the pulmonary artery, the superior vena cava and the pulmonary veins"}],
     "recommendation": {"request": "can I see the heart beating?", "model_id": "human_heart", "animation": "heartbeat",
                        "reply": "This is a biology diagram of the human heart, with four chambers and blood-flow
                                  arrows. I am opening the human_heart 3D model with the heartbeat animation."}}

The caption and reply are single strings (wrapped here). The catalogue (`models3d`) maps model id -> {"animations":
[...], ...}; a model the labels need but the catalogue lacks is a KeyError, one with no animations a ValueError.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image

from tutorforge.vision.diagrams import captions
from tutorforge.vision.diagrams.canvas import STYLES, Canvas
from tutorforge.vision.diagrams.catalogue import KINDS
from tutorforge.vision.diagrams.phrasebook import request_for

FACTS_SIZE = 32  # facts do not depend on the size, so sample_records draws them on a small canvas


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from a SHA-256 of the parts (the same on every machine and run)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def figure_number(label: str, seed: int) -> tuple[int, int]:
    """The textbook figure number "n.m" of a variant (the same in every style; drawn in style 2)."""
    h = stable_seed(label, seed, "figure")
    return 1 + h % 12, 1 + (h // 12) % 9


def _check(label: str, style: int) -> None:
    if label not in KINDS:
        raise KeyError(f"unknown diagram label {label!r}; known: {', '.join(KINDS)}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def render(label: str, seed: int, style: int, size: int = 224) -> tuple[Image.Image, dict[str, Any]]:
    """The RGB image (size x size) of the variant `seed` of `label` in `style`, and the facts it draws."""
    _check(label, style)
    canvas = Canvas(
        size,
        style,
        rng=random.Random(stable_seed(label, seed)),
        layout_rng=random.Random(stable_seed(label, seed, style)),
        figure=figure_number(label, seed),
    )
    facts = KINDS[label].draw(canvas)
    return canvas.finish(), facts


def record(label: str, seed: int, style: int, facts: dict[str, Any], models3d: Mapping[str, Mapping]) -> dict[str, Any]:
    """The record of one rendered variant (see the module docstring), worded with its own seeded RNG."""
    _check(label, style)
    kind = KINDS[label]
    if kind.model_id not in models3d:
        raise KeyError(f"the 3D catalogue has no model {kind.model_id!r} (needed by label {label!r})")
    animations = list(models3d[kind.model_id].get("animations") or [])
    if not animations:
        raise ValueError(f"3D model {kind.model_id!r} lists no animations")
    rng = random.Random(stable_seed(label, seed, style, "text"))
    animation = str(rng.choice(animations))
    reply = (
        f"This is a {kind.subject} diagram of {kind.title}, {captions.clause(label, facts)}. "
        f"I am opening the {kind.model_id} 3D model with the {animation} animation."
    )
    return {
        "id": f"{label}-s{seed}-y{style}",
        "label": label,
        "subject": kind.subject,
        "model_id": kind.model_id,
        "family": f"{label}-s{seed}",
        "seed": seed,
        "style": style,
        "caption": captions.caption(kind, facts, style, figure_number(label, seed), rng),
        "facts": copy.deepcopy(facts),
        "qa": captions.qa(kind, facts),
        "recommendation": {
            "request": request_for(animation),
            "model_id": kind.model_id,
            "animation": animation,
            "reply": reply,
        },
    }


def sample_records(
    labels: Iterable[str], seeds: Iterable[int], styles: Iterable[int], models3d: Mapping[str, Mapping]
) -> list[dict[str, Any]]:
    """One record per (label, seed, style), in that nesting order; the images come from render(label, seed, style)."""
    labels, seeds, styles = list(labels), list(seeds), list(styles)
    out = []
    for label in labels:
        _check(label, 0)
        for seed in seeds:
            _, facts = render(label, seed, 0, FACTS_SIZE)
            out += [record(label, seed, style, facts, models3d) for style in styles]
    return out
