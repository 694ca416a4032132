"""The `vision_eval` stage: the trained diagram encoder vs its zero-shot baseline on held-out diagram families.

    cfg = load_config(VisionEvalConfig)       # params.yaml [vision_eval] + seed + the vision knobs it rebuilds with
    metrics = evaluate_vision(cfg, out_folder)

metrics.json (one model's block; `baseline` has the same keys):

    {"trained": {"top1": 0.97, "top3": 1.0, "subject_top1": 0.98, "recommendation": 0.98,
                 "per_style": {"0": 0.99, "1": 0.98, "2": 0.93}, "per_subject": {"biology": 0.97, ...},
                 "latency_ms": {"p50": 9.1, "p95": 11.4}, "peak_rss_mb": 812.0, "items": 792},
     "baseline": {...}, "baseline_encoder": "untrained small SigLIP (same seed)", "textbook": {...}}

- Classification is CLIP-style zero-shot: each label's prompts (vision.prompts filled with its catalogue title) are
  embedded by the encoder's own text tower and the image goes to the nearest (cosine, the roadmap's confidence).
- recommendation: the predicted label's 3D model id is the record's (series and parallel circuits share one model).
- The baseline is the encoder before training: the pretrained checkpoint `vision.init` names (the roadmap's current
  CLIP zero-shot system) or, offline, the untrained small SigLIP rebuilt from the same seed (chance level: no
  pretrained CLIP/SigLIP weights can be downloaded here); `baseline` names another checkpoint to compare with.
- latency: one image end to end (decode, preprocess, embed, score against the cached label embeddings), p50/p95 over
  `latency_items` images; peak_rss_mb: the process's resident high-water mark after the model's pass.
- Textbook figures are reported apart (`textbook`) once ingest extracts them; procedural held-out numbers never
  mix with them.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutorforge.core.config import PositiveInt, section
from tutorforge.core.io import write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import OutputSet
from tutorforge.vision.contrastive import EncoderSpec
from tutorforge.vision.train import (
    DEFAULT_PROMPTS,
    VisionConfig,
    class_texts,
    initial_encoder,
    labels_of,
    load_images,
    read_split,
)

if TYPE_CHECKING:
    from tutorforge.vision.encoder import DiagramEncoder

log = get_logger("vision_eval")


@section("vision_eval")
@dataclass
class VisionEvalConfig:
    data: str = "artifacts/diagrams"
    """The diagrams stage's output (held-out families: `split`)."""
    encoder: str = "artifacts/vision/encoder"
    """The trained encoder (the vision stage's encoder/ dir)."""
    baseline: str = ""
    """"" = the encoder before training (vision.init, or the untrained small model rebuilt from the same seed); else
    a CLIP/SigLIP checkpoint dir or hub id scored zero-shot beside the trained one."""
    split: str = "test"
    """Held-out split scored: test | validation."""
    output: str = "artifacts/vision_eval"
    """Output folder: metrics.json, confusion.png, predictions.jsonl, report.md."""
    latency_items: PositiveInt = 40
    """Images timed one at a time (p50/p95)."""
    top_k: PositiveInt = 3
    """Ranked labels kept per prediction (top-3 accuracy needs >= 3)."""
    seed: int = 1337
    vision_init: str = field(default="", metadata={"params_from": "vision.init"})
    vision_encoder: EncoderSpec = field(default_factory=EncoderSpec, metadata={"params_from": "vision.encoder"})
    prompts: list[str] = field(
        default_factory=lambda: list(DEFAULT_PROMPTS), metadata={"params_from": "vision.prompts"}
    )
    """The class prompts the encoder was trained with (read from vision.prompts)."""

    def __post_init__(self) -> None:
        if self.split not in ("test", "validation"):
            raise ValueError(f"vision_eval.split: {self.split!r} is not test or validation")
        if self.top_k < 3:
            raise ValueError(f"vision_eval.top_k: {self.top_k} < 3 (top-3 accuracy is reported)")


def score_encoder(
    encoder: DiagramEncoder, records: list[dict[str, Any]], texts: dict[str, list[str]], latency_items: int, top_k: int
) -> tuple[dict[str, Any], list[list[tuple[str, float]]]]:
    """Accuracy, recommendation, per-style/subject, latency and memory of one encoder on `records`."""
    import numpy as np

    from tutorforge.vision.diagrams import KINDS
    from tutorforge.vision.encoder import class_embeddings, zero_shot

    labels, label_emb = class_embeddings(encoder, texts)
    ranked = zero_shot(encoder, load_images(records), class_emb=(labels, label_emb))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    latencies = []
    for rec in records[:latency_items]:
        t0 = time.perf_counter()
        zero_shot(encoder, load_images([rec]), class_emb=(labels, label_emb))
        latencies.append((time.perf_counter() - t0) * 1000)
    hits: dict[str, list[bool]] = defaultdict(list)
    for rec, r in zip(records, ranked, strict=True):
        best = r[0][0]
        hits["top1"].append(best == rec["label"])
        hits["top3"].append(rec["label"] in [lb for lb, _ in r[:3]])
        hits["subject_top1"].append(KINDS[best].subject == rec["subject"])
        hits["recommendation"].append(KINDS[best].model_id == rec["model_id"])
        hits[f"style:{rec['style']}"].append(best == rec["label"])
        hits[f"subject:{rec['subject']}"].append(best == rec["label"])
    mean = {k: round(sum(v) / len(v), 4) for k, v in hits.items()}
    cut = [[(lb, round(s, 4)) for lb, s in r[:top_k]] for r in ranked]
    metrics = {
        **{k: mean[k] for k in ("top1", "top3", "subject_top1", "recommendation")},
        "per_style": {k.split(":")[1]: v for k, v in sorted(mean.items()) if k.startswith("style:")},
        "per_subject": {k.split(":")[1]: v for k, v in sorted(mean.items()) if k.startswith("subject:")},
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(float(np.percentile(latencies, 95, method="inverted_cdf")), 2),
        },
        "peak_rss_mb": round(rss_mb, 1),
        "items": len(records),
    }
    return metrics, cut


def confusion_png(
    path: Path, labels: list[str], records: list[dict[str, Any]], ranked: list[list[tuple[str, float]]], title: str
) -> None:
    """Label x label confusion matrix (rows: truth, columns: top-1 prediction) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pos = {lb: i for i, lb in enumerate(labels)}
    grid = np.zeros((len(labels), len(labels)), dtype=int)
    for rec, r in zip(records, ranked, strict=True):
        grid[pos[rec["label"]], pos[r[0][0]]] += 1
    fig, ax = plt.subplots(figsize=(10, 9), dpi=100)
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, j in zip(*np.nonzero(grid), strict=True):
        ax.text(j, i, str(grid[i, j]), ha="center", va="center", fontsize=6,
                color="white" if grid[i, j] > grid.max() / 2 else "black")  # fmt: skip
    ax.set_xlabel("predicted (top-1)")
    ax.set_ylabel("true label")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})  # no version string: same inputs, same bytes
    plt.close(fig)


def evaluate_vision(cfg: VisionEvalConfig, out: Path | OutputSet) -> dict[str, Any]:
    """Score the trained encoder and its baseline on the held-out split; write the report files into `out`."""
    from tutorforge.vision.encoder import load_encoder

    records = read_split(cfg.data, cfg.split)
    if not records:
        raise ValueError(f"{cfg.data}/{cfg.split}.jsonl holds no records")
    train = read_split(cfg.data, "train")
    # the labels of the dataset (a label whose few families all fell into the held-out split is still asked for:
    # zero-shot, the text tower embeds its prompts all the same)
    texts = class_texts(cfg.prompts, labels_of(train + records))
    trained = load_encoder(cfg.encoder)
    metrics_trained, ranked = score_encoder(trained, records, texts, cfg.latency_items, cfg.top_k)
    del trained
    if cfg.baseline:
        baseline, baseline_name = load_encoder(cfg.baseline), cfg.baseline
    else:
        vcfg = VisionConfig(data=cfg.data, init=cfg.vision_init, encoder=cfg.vision_encoder, prompts=cfg.prompts,
                            seed=cfg.seed)  # fmt: skip
        baseline = initial_encoder(vcfg, train)
        baseline_name = cfg.vision_init or "untrained small SigLIP (same seed; no pretrained weights offline)"
    metrics_baseline, _ = score_encoder(baseline, records, texts, cfg.latency_items, cfg.top_k)
    confusion_png(
        out / "confusion.png", list(texts), records, ranked, f"Held-out diagrams ({cfg.split}): trained encoder, top-1"
    )
    write_jsonl(out / "predictions.jsonl", [
        {"id": r["id"], "label": r["label"], "style": r["style"], "ranked": [[lb, s] for lb, s in rk]}
        for r, rk in zip(records, ranked, strict=True)
    ])  # fmt: skip
    metrics = {
        "trained": metrics_trained,
        "baseline": metrics_baseline,
        "baseline_encoder": baseline_name,
        "split": cfg.split,
        "labels": len(texts),
        "families": len({r["family"] for r in records}),
        "per_label_items": dict(sorted(Counter(r["label"] for r in records).items())),
        "textbook": {"items": 0, "note": "textbook figures are not extracted by ingest yet"},
    }
    (out / "report.md").write_text(report_md(metrics), encoding="utf-8")
    log.info("vision_eval: trained top-1 %.3f top-3 %.3f rec %.3f | baseline top-1 %.3f",
             metrics_trained["top1"], metrics_trained["top3"], metrics_trained["recommendation"],
             metrics_baseline["top1"])  # fmt: skip
    return metrics


def report_md(m: dict[str, Any]) -> str:
    """The evaluation as Markdown, the confusion matrix embedded."""
    rows = [
        ("top-1", "top1"),
        ("top-3", "top3"),
        ("subject top-1", "subject_top1"),
        ("3D recommendation", "recommendation"),
    ]
    t, b = m["trained"], m["baseline"]
    lines = [
        "# Diagram understanding: held-out procedural diagrams",
        "",
        f"{t['items']} images of {m['families']} held-out families ({m['split']} split), {m['labels']} labels. "
        f"Baseline: {m['baseline_encoder']}.",
        "",
        "| metric | trained | baseline |",
        "|---|---|---|",
        *[f"| {name} | {t[key]:.3f} | {b[key]:.3f} |" for name, key in rows],
        *[f"| top-1, style {s} | {v:.3f} | {b['per_style'].get(s, 0):.3f} |" for s, v in t["per_style"].items()],
        f"| latency p50 / p95 (ms, one image) | {t['latency_ms']['p50']} / {t['latency_ms']['p95']} | "
        f"{b['latency_ms']['p50']} / {b['latency_ms']['p95']} |",
        f"| peak RSS (MB) | {t['peak_rss_mb']} | {b['peak_rss_mb']} |",
        "",
        "![confusion matrix](confusion.png)",
        "",
        f"Textbook figures: {m['textbook']['note']}.",
        "",
    ]
    return "\n".join(lines)
