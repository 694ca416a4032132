"""Procedural school diagrams for the vision encoder and the tutor: 22 labels in 4 subjects, 3 styles, seeded.

    from tutorforge.vision.diagrams import LABELS, MODEL_IDS, render, sample_records
    image, facts = render("series_circuit", seed=3, style=1)          # PIL RGB 224 x 224 + {"resistors": 3, ...}
    records = sample_records(LABELS, range(100), (0, 1, 2), params["serve"]["models3d"])

Modules: canvas (the styled drawing surface), biology / chemistry / physics / mathematics (one draw function per
label), catalogue (DiagramKind, KINDS), captions (captions and QA), phrasebook (animation requests), records
(render, sample_records; the record shape is documented there).
"""

from tutorforge.vision.diagrams.canvas import STYLES, Canvas
from tutorforge.vision.diagrams.catalogue import KINDS, LABELS, MODEL_IDS, SUBJECTS, DiagramKind
from tutorforge.vision.diagrams.phrasebook import PHRASEBOOK, request_for
from tutorforge.vision.diagrams.records import figure_number, record, render, sample_records

__all__ = [
    "KINDS",
    "LABELS",
    "MODEL_IDS",
    "PHRASEBOOK",
    "STYLES",
    "SUBJECTS",
    "Canvas",
    "DiagramKind",
    "figure_number",
    "record",
    "render",
    "request_for",
    "sample_records",
]
