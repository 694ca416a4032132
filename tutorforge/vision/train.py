"""The `vision` stage: a CLIP/SigLIP image encoder trained contrastively on the diagram dataset's figure–caption pairs.

    cfg = load_config(VisionConfig)            # params.yaml [vision] + seed (+ the selected profile)
    report = train_encoder(cfg, out_folder)    # out: encoder/ (loadable by tutorforge.vision.encoder.load_encoder)

One training pair: the PNG of a train-split record and its caption ("A series circuit with one cell and 3 resistors
in a single loop."), or one of `prompts` filled with its catalogue title ("a diagram of a series circuit"), so the
text tower knows the prompts zero-shot classification asks with. Pairs of one label never meet as negatives in a
batch (SigLIP's sigmoid loss would push apart two captions of the same diagram).

`init` "" (CPU default: no pretrained weights can be downloaded here) builds a small SigLIP-architecture model from
`encoder` and a caption tokenizer; a checkpoint dir or hub id (GPU profiles: google/siglip-base-patch16-224 or
openai/clip-vit-base-patch32) is fine-tuned instead, through the same `load_encoder` the server uses.
`initial_encoder` rebuilds the untrained starting point exactly (same seed -> same weights): vision_eval scores it
as the zero-shot baseline.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutorforge.core.config import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, section
from tutorforge.core.io import write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import OutputSet
from tutorforge.vision.contrastive import EncoderSpec

if TYPE_CHECKING:
    from PIL import Image

    from tutorforge.vision.encoder import DiagramEncoder

log = get_logger("vision")

DEFAULT_PROMPTS = ["a diagram of {title}", "{title}", "a {subject} diagram showing {title}"]


@section("vision")
@dataclass
class VisionConfig:
    data: str = "artifacts/diagrams"
    """The diagrams stage's output: train.jsonl / validation.jsonl records with their images/ PNGs."""
    output: str = "artifacts/vision"
    """Output folder: encoder/ (model + image processor + tokenizer), train_log.jsonl, report.json."""
    init: str = ""
    """"" = a new small SigLIP-architecture model built from `encoder` (offline default); else a CLIP/SigLIP checkpoint
    dir or hub id to fine-tune (google/siglip-base-patch16-224, openai/clip-vit-base-patch32)."""
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    """Architecture of the new small model (ignored when `init` names a checkpoint)."""
    prompts: list[str] = field(default_factory=lambda: list(DEFAULT_PROMPTS))
    """Class prompts ({title}, {subject}): extra training captions, and the texts zero-shot classification embeds."""
    steps: PositiveInt = 2000
    """Optimizer steps."""
    batch_size: PositiveInt = 32
    """Pairs per step, each of a different label (at most the number of labels)."""
    learning_rate: PositiveFloat = 5e-4
    weight_decay: NonNegFloat = 0.1
    warmup_steps: NonNegInt = 50
    """Linear warm-up, then cosine decay to 0."""
    augment: bool = True
    """Seeded random shifts/crops of the pixels each step (the drawings' own variation is per family)."""
    torch_threads: NonNegInt = 0
    """CPU threads for torch (0 = torch's default)."""
    seed: int = 1337
    profile: str = "cpu"
    """Hardware profile: key of `profiles` whose values override the fields above."""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in self.prompts:
            try:
                p.format(title="t", subject="s")
            except (KeyError, IndexError, ValueError) as e:
                raise ValueError(f"vision.prompts: {p!r} may use only {{title}} and {{subject}} ({e})") from None
        if not self.prompts:
            raise ValueError("vision.prompts: needs at least one prompt")


def read_split(data: str | Path, split: str) -> list[dict[str, Any]]:
    """Records of one split of the diagrams stage; each gets `image_path` (absolute, checked inside `data`)."""
    from tutorforge.core.io import read_jsonl

    root = Path(data).resolve()
    path = root / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no {split} split at {path} (run `python -m stages.diagrams` first)")
    out = []
    for n, rec in enumerate(read_jsonl(path), 1):
        image = (root / str(rec.get("image", ""))).resolve()
        if not image.is_relative_to(root) or not image.is_file():
            raise FileNotFoundError(f"{path}: record {n}: image {rec.get('image')!r} is not a file inside {root}")
        out.append({**rec, "image_path": str(image)})
    return out


def load_images(records: list[dict[str, Any]]) -> list[Image.Image]:
    """The records' PNGs as RGB images."""
    from PIL import Image

    images = []
    for rec in records:
        with Image.open(rec["image_path"]) as im:
            images.append(im.convert("RGB"))
    return images


def class_texts(prompts: list[str], labels: list[str] | None = None) -> dict[str, list[str]]:
    """label -> its prompts filled with the catalogue title and subject (what zero-shot classification embeds), for
    `labels` (None = every label of the catalogue)."""
    from tutorforge.vision.diagrams import KINDS

    return {lb: [p.format(title=KINDS[lb].title, subject=KINDS[lb].subject) for p in prompts] for lb in labels or KINDS}


def labels_of(records: list[dict[str, Any]]) -> list[str]:
    """The labels the records hold, in catalogue order (what an encoder trained on them classifies into)."""
    from tutorforge.vision.diagrams import KINDS

    present = {r["label"] for r in records}
    if unknown := sorted(present - set(KINDS)):
        raise ValueError(f"unknown diagram labels {unknown}")
    return [lb for lb in KINDS if lb in present]


def training_pairs(records: list[dict[str, Any]], prompts: list[str], seed: int) -> tuple[list[int], list[str]]:
    """(record index, caption) pairs: each record with its own caption and with one of the class prompts."""
    texts = class_texts(prompts)
    rng = random.Random(seed)
    idx, caps = [], []
    for i, rec in enumerate(records):
        idx += [i, i]
        caps += [rec["caption"], rng.choice(texts[rec["label"]])]
    return idx, caps


def initial_encoder(cfg: VisionConfig, train: list[dict[str, Any]]) -> DiagramEncoder:
    """The encoder before training: `init` loaded, or the new small model (same cfg + data -> same weights)."""
    from tutorforge.vision.contrastive import new_small_encoder
    from tutorforge.vision.encoder import load_encoder

    if cfg.init:
        return load_encoder(cfg.init)
    _, captions = training_pairs(train, cfg.prompts, cfg.seed)
    all_texts = captions + [t for ts in class_texts(cfg.prompts, labels_of(train)).values() for t in ts]
    return new_small_encoder(cfg.encoder, all_texts, cfg.seed)


def train_encoder(cfg: VisionConfig, out: Path | OutputSet) -> dict[str, Any]:
    """Train on the train split, write encoder/ and train_log.jsonl into `out`; returns the report."""
    import torch

    from tutorforge.vision.contrastive import save_encoder, train_contrastive
    from tutorforge.vision.encoder import zero_shot

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    train = read_split(cfg.data, "train")
    validation = read_split(cfg.data, "validation")
    if not train:
        raise ValueError(f"{cfg.data}/train.jsonl holds no records")
    encoder = initial_encoder(cfg, train)
    params = sum(p.numel() for p in encoder.model.parameters())
    idx, captions = training_pairs(train, cfg.prompts, cfg.seed)
    images = load_images(train)
    log.info("vision: %d pairs of %d train images, %d steps x %d, %.1fM params", len(idx), len(images), cfg.steps,
             cfg.batch_size, params / 1e6)  # fmt: skip
    t0 = time.perf_counter()
    train_log = train_contrastive(
        encoder,
        [images[i] for i in idx],
        captions,
        groups=[train[i]["label"] for i in idx],
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        seed=cfg.seed,
        augment=cfg.augment,
    )
    seconds = time.perf_counter() - t0
    labels = labels_of(train)
    ranked = zero_shot(encoder, load_images(validation), class_texts(cfg.prompts, labels)) if validation else []
    val_top1 = sum(r[0][0] == rec["label"] for r, rec in zip(ranked, validation, strict=True)) / max(1, len(ranked))
    # the encoder describes itself: the labels and prompts it was trained with travel in its config.json (the
    # server's DiagramReader and vision_eval ask with exactly these)
    encoder.model.config.diagram_labels = labels
    encoder.model.config.diagram_prompts = list(cfg.prompts)
    save_encoder(encoder, out / "encoder")
    write_jsonl(out / "train_log.jsonl", train_log)
    report = {
        "init": cfg.init or "new small SigLIP",
        "kind": encoder.kind,
        "params": params,
        "image_size": encoder.image_size,
        "train_images": len(images),
        "train_pairs": len(idx),
        "steps": cfg.steps,
        "final_loss": round(float(train_log[-1]["loss"]), 4) if train_log else None,
        "train_seconds": round(seconds, 1),
        "validation_top1": round(val_top1, 4),
        "validation_images": len(validation),
    }
    log.info(
        "vision: trained in %.0f s, loss %.3f, validation top-1 %.3f", seconds, report["final_loss"] or 0, val_top1
    )
    return report
