"""Train a small SigLIP-architecture diagram encoder from scratch and save it where `load_encoder` reads it.

    encoder = new_small_encoder(EncoderSpec(), captions, seed=1337)      # caption tokenizer + random SigLIP
    log = train_contrastive(encoder, images, captions, groups=labels, steps=300, batch_size=32, learning_rate=5e-4,
                            weight_decay=0.1, warmup_steps=30, seed=1337, augment=True)
    save_encoder(encoder, "artifacts/vision/encoder")                 # model + image processor + tokenizer
    load_encoder("artifacts/vision/encoder")                           # the same path a hub id goes through

Training uses the model's own loss (`return_loss=True`: SigLIP's sigmoid loss, CLIP's softmax contrastive loss),
so a pretrained CLIP/SigLIP from `load_encoder` is fine-tuned by the same `train_contrastive`. Pairs of one group
(label) never meet in a batch: both losses treat every off-diagonal pair as a negative, and two captions of the same
diagram are not one.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutorforge.core.config import PositiveInt, forbid_extra
from tutorforge.core.logs import get_logger

if TYPE_CHECKING:  # torch, PIL and transformers load on first use: params checks import EncoderSpec
    import torch
    from PIL import Image

    from tutorforge.vision.encoder import DiagramEncoder

__all__ = [
    "SPECIAL_TOKENS",
    "EncoderSpec",
    "build_small_siglip",
    "count_params",
    "make_image_processor",
    "new_small_encoder",
    "save_encoder",
    "train_caption_tokenizer",
    "train_contrastive",
]

log = get_logger("vision.contrastive")

#: The caption tokenizer's special tokens, in id order ([PAD]=0, [EOS]=1, [UNK]=2; EOS is not 2, which CLIP's
#: text tower would read as the legacy "pool at the highest id" convention).
SPECIAL_TOKENS = ("[PAD]", "[EOS]", "[UNK]")

_LOGIT_SCALE_INIT = math.log(10.0)
_LOGIT_BIAS_INIT = -3.0


@forbid_extra
@dataclass
class EncoderSpec:
    """Architecture of the small SigLIP trained from scratch (params.yaml `vision.encoder`).

    Why these defaults (the default diagram dataset, 2-core CPU, test split): a ViT from scratch learns slowly on a
    few thousand images, so the budget goes to steps, not width. 128 px in 16-px patches, 6 layers x 192 (5.2M
    params): validation top-1 0.25 after 300 steps, 0.39 after 600 (~0.3 s a step). 4 layers x 128 (1.5M) at 64 px in
    8-px patches: test top-1 0.84 after 1500 steps (~0.1 s a step), line art 0.74; the same at 96 px in 12-px patches
    (the same 64 patch tokens, finer lines kept): 0.89, line art still 0.74; 2000 steps (vision.steps, 214 s):
    0.92, line art 0.82.
    """

    image_size: PositiveInt = 96
    """Input side in pixels (images are resized to image_size x image_size)."""
    patch_size: PositiveInt = 12
    """ViT patch side in pixels: (image_size / patch_size)^2 patch tokens per image."""
    vision_hidden: PositiveInt = 128
    """Vision transformer width (also the joint embedding size: the text head projects to it)."""
    vision_layers: PositiveInt = 4
    """Vision transformer layers."""
    vision_heads: PositiveInt = 4
    """Attention heads, vision and text towers (each must divide its width)."""
    vision_intermediate: PositiveInt = 512
    """Vision MLP width (the text MLP is 4 x text_hidden)."""
    text_hidden: PositiveInt = 128
    """Text transformer width."""
    text_layers: PositiveInt = 2
    """Text transformer layers."""
    text_max_length: PositiveInt = 32
    """Text positions: captions are truncated to this many tokens, and (SigLIP) always padded to it."""
    vocab_size: PositiveInt = 2048
    """Upper bound on the caption tokenizer's vocabulary (the model's vocabulary is the tokenizer's actual size)."""

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        for name, width in (("vision_hidden", self.vision_hidden), ("text_hidden", self.text_hidden)):
            if width % self.vision_heads:
                raise ValueError(f"{name} {width} is not divisible by vision_heads {self.vision_heads}")
        if self.vocab_size < len(SPECIAL_TOKENS) + 1:
            raise ValueError(f"vocab_size {self.vocab_size} is too small")


# ---------------------------------------------------------------------------------------------------- building


def train_caption_tokenizer(captions: Iterable[str], vocab_size: int, max_length: int) -> Any:
    """A lowercase WordPiece tokenizer fitted to `captions`, identical for the same captions (ids included).

    Vocabulary (at most `vocab_size`): the specials, every character seen (as a word start and as a ``##``
    continuation, most frequent first), then whole words by frequency (ties alphabetical). A word outside the
    vocabulary is spelled in characters. (The `tokenizers` WordPiece/BPE trainers break ties between equally
    frequent merges by hash order, so two runs on the same captions give different vocabularies; counting here
    keeps the tokenizer, and so the model's weights, a pure function of the captions.)

    Every encoding ends with [EOS] (kept when truncating); [PAD] pads. Returns a `PreTrainedTokenizerFast`
    (transformers v5: `TokenizersBackend`) with `model_max_length = max_length`; `save_pretrained` writes
    tokenizer.json + tokenizer_config.json, which `AutoTokenizer.from_pretrained` loads back.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pad, eos, unk = SPECIAL_TOKENS
    normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    n_captions = 0
    for caption in captions:
        n_captions += 1
        words.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(str(caption))))
    if not n_captions:
        raise ValueError("train_caption_tokenizer: no captions")
    chars: Counter[str] = Counter()
    for word, count in words.items():
        for ch in word:
            chars[ch] += count
    by_count = lambda item: (-item[1], item[0])  # noqa: E731
    vocab: dict[str, int] = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch, _ in sorted(chars.items(), key=by_count):
        for piece in (ch, "##" + ch):
            if len(vocab) < vocab_size:
                vocab.setdefault(piece, len(vocab))
    for word, _ in sorted(words.items(), key=by_count):
        if len(vocab) >= vocab_size:
            break
        vocab.setdefault(word, len(vocab))

    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=unk, max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(single=f"$A {eos}", special_tokens=[(eos, vocab[eos])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=pad, eos_token=eos, unk_token=unk, model_max_length=max_length
    )


def build_small_siglip(spec: EncoderSpec, tokenizer: Any) -> Any:
    """A randomly initialised `SiglipModel` shaped by `spec`, its vocabulary and pad/eos ids from `tokenizer`.

    The logit scale starts at SigLIP's published t' = log 10 and the bias at -3 (about -log(B - 1), the best
    constant logit for a batch of B ~ 20 pairs, one per label), not transformers' zeros. The paper's b = -10 is
    tuned for batches of thousands: with the few dozen pairs trained here it parks the model at the collapsed
    optimum for many steps (measured on the 6-class toy task of tests/test_vision_encoder.py, 60 steps, 6 seeds:
    b = -10 ends at 17-83% top-1, b = -3 at 100% in every run).
    """
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipTextConfig, SiglipVisionConfig

    text = SiglipTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.text_hidden,
        intermediate_size=4 * spec.text_hidden,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.vision_heads,
        max_position_embeddings=spec.text_max_length,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        projection_size=spec.vision_hidden,
    )
    vision = SiglipVisionConfig(
        hidden_size=spec.vision_hidden,
        intermediate_size=spec.vision_intermediate,
        num_hidden_layers=spec.vision_layers,
        num_attention_heads=spec.vision_heads,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
    )
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    with torch.no_grad():
        model.logit_scale.fill_(_LOGIT_SCALE_INIT)
        model.logit_bias.fill_(_LOGIT_BIAS_INIT)
    return model


def count_params(model: Any) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def make_image_processor(spec: EncoderSpec) -> Any:
    """SigLIP's image processor for `spec`: RGB, bicubic resize to image_size x image_size, rescale, mean/std 0.5.

    (transformers v5 has a torchvision and a PIL backend; the PIL one is used where torchvision is missing. Both
    save as `SiglipImageProcessor`, and `AutoImageProcessor` picks the available backend on load.)
    """
    from transformers.utils.import_utils import is_torchvision_available

    if is_torchvision_available():
        from transformers import SiglipImageProcessor as Processor
    else:
        from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil as Processor
    return Processor(
        size={"height": spec.image_size, "width": spec.image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        do_resize=True,
        do_rescale=True,
        do_normalize=True,
        do_convert_rgb=True,
    )


def new_small_encoder(spec: EncoderSpec, captions: Iterable[str], seed: int) -> DiagramEncoder:
    """Caption tokenizer trained on `captions` + a random small SigLIP seeded by `seed` (same inputs -> same
    weights; torch's global RNG is left as it was)."""
    import torch

    from tutorforge.vision.encoder import DiagramEncoder

    tokenizer = train_caption_tokenizer(captions, spec.vocab_size, spec.text_max_length)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_small_siglip(spec, tokenizer)
    model.eval()
    return DiagramEncoder(
        model=model,
        image_processor=make_image_processor(spec),
        tokenizer=tokenizer,
        kind="siglip",
        text_max_length=spec.text_max_length,
        source=None,
    )


# ---------------------------------------------------------------------------------------------------- training


def _pixel_tensor(
    encoder: DiagramEncoder, images: Sequence[Image.Image], chunk: int = 64
) -> tuple[torch.Tensor, list[int]]:
    """All distinct images (by identity: a list that repeats one image object preprocesses it once) through the
    processor once. Returns (pixels [n_distinct, 3, H, W], index of each input image into it)."""
    import torch

    slot: dict[int, int] = {}
    distinct: list[Image.Image] = []
    index: list[int] = []
    for im in images:
        key = id(im)
        if key not in slot:
            slot[key] = len(distinct)
            distinct.append(im)
        index.append(slot[key])
    parts = [encoder.pixel_values(distinct[i : i + chunk]) for i in range(0, len(distinct), chunk)]
    return torch.cat(parts), index


def _augment(pixels: torch.Tensor, generator: torch.Generator, min_scale: float = 0.8) -> torch.Tensor:
    """Seeded random resized crop (scale min_scale..1 of the side, random position, resampled to full size).

    One batched `affine_grid` + `grid_sample`; no flips (diagrams have text and left/right parts)."""
    import torch

    n = pixels.shape[0]
    scale = min_scale + (1.0 - min_scale) * torch.rand(n, generator=generator)
    shift = (torch.rand(n, 2, generator=generator) * 2.0 - 1.0) * (1.0 - scale).unsqueeze(1)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = torch.nn.functional.affine_grid(theta, list(pixels.shape), align_corners=False)
    return torch.nn.functional.grid_sample(
        pixels, grid.to(pixels.dtype), mode="bilinear", padding_mode="border", align_corners=False
    )


class _GroupSampler:
    """Seeded batches with at most one pair per group.

    Each batch takes `min(batch_size, n_groups)` distinct groups (the least recently used first, ties broken at
    random) and from each the next pair of its own shuffled cycle, so every pair is seen about equally often."""

    def __init__(self, groups: Sequence[str], batch_size: int, seed: int) -> None:
        self.rng = random.Random(seed)
        members: dict[str, list[int]] = {}
        for i, g in enumerate(groups):
            members.setdefault(g, []).append(i)
        self.names = sorted(members)
        self.members = {g: members[g] for g in self.names}
        self.queues: dict[str, list[int]] = {g: [] for g in self.names}
        self.last_used = dict.fromkeys(self.names, -1)
        self.batch_size = min(batch_size, len(self.names))
        self.step = 0

    def _next_of(self, group: str) -> int:
        queue = self.queues[group]
        if not queue:
            queue.extend(self.members[group])
            self.rng.shuffle(queue)
        return queue.pop()

    def batch(self) -> list[int]:
        order = sorted(self.names, key=lambda g: (self.last_used[g], self.rng.random()))
        chosen = order[: self.batch_size]
        for g in chosen:
            self.last_used[g] = self.step
        self.step += 1
        picked = [self._next_of(g) for g in chosen]
        self.rng.shuffle(picked)
        return picked


def train_contrastive(
    encoder: DiagramEncoder,
    images: Sequence[Image.Image],
    captions: Sequence[str],
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    warmup_steps: int,
    seed: int,
    augment: bool,
    groups: Sequence[str] | None = None,
    progress: bool = True,
    log_every: int = 10,
    on_log: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train `encoder.model` IN PLACE on (image, caption) pairs with the model's own contrastive loss.

    - batches: at most one pair per group (`groups`, e.g. the diagram labels; default: the caption text itself,
      so identical captions never meet as negatives); the batch is `min(batch_size, number of groups)`;
    - AdamW (weight decay on matrices only, not on biases, norms, embeddings' logit scale/bias) with linear warm-up
      then cosine decay to 0 (`get_cosine_schedule_with_warmup`);
    - all images are preprocessed once up front; `augment` adds a seeded random resized crop per step;
    - deterministic: the same inputs and seed give the same weights (batches and crops come from generators seeded
      by `seed`; torch's global RNG is not touched).

    Returns the log: one `{"step", "loss", "lr"}` every `log_every` steps and at the last one (`loss` is the mean
    over the steps since the previous entry, `lr` the rate the last of them used); each entry also goes to
    `on_log`. The model is left in eval mode, and `encoder.source` is cleared (the weights no longer match it).
    """
    import torch
    from tqdm import tqdm
    from transformers import get_cosine_schedule_with_warmup

    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if groups is not None and len(groups) != len(captions):
        raise ValueError(f"{len(groups)} groups but {len(captions)} captions")
    if not captions:
        raise ValueError("train_contrastive: no training pairs")
    if steps < 1 or batch_size < 1 or log_every < 1:
        raise ValueError(f"steps, batch_size and log_every must be >= 1 (got {steps}, {batch_size}, {log_every})")
    group_of = [str(g) for g in (groups if groups is not None else captions)]
    sampler = _GroupSampler(group_of, batch_size, seed)
    if sampler.batch_size < 2:
        raise ValueError("train_contrastive: a contrastive batch needs pairs of at least 2 different groups")
    if sampler.batch_size < batch_size:
        log.info(
            "contrastive: %d groups, so batches of %d (not %d)", sampler.batch_size, sampler.batch_size, batch_size
        )

    model = encoder.model
    device, dtype = encoder.device, encoder.dtype
    pixels, pixel_index = _pixel_tensor(encoder, images)
    tokens = encoder.tokenize(captions)

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=learning_rate,
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=warmup_steps, num_training_steps=steps)
    crops = torch.Generator().manual_seed(seed)

    history: list[dict[str, Any]] = []
    window: list[float] = []
    model.train()
    encoder.source = None
    bar = tqdm(total=steps, desc="contrastive", unit="step", disable=None if progress else True, file=sys.stderr)
    try:
        for step in range(1, steps + 1):
            rows = sampler.batch()
            batch_pixels = pixels[[pixel_index[i] for i in rows]]
            if augment:
                batch_pixels = _augment(batch_pixels, crops)
            inputs = {k: v[rows].to(device) for k, v in tokens.items()}
            out = model(pixel_values=batch_pixels.to(device, dtype), return_loss=True, **inputs)
            loss = out.loss
            if not torch.isfinite(loss):
                raise FloatingPointError(f"contrastive: loss is {loss.item()} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            value = float(loss.item())
            window.append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr:.2e}")
            if step % log_every == 0 or step == steps:
                entry = {"step": step, "loss": sum(window) / len(window), "lr": lr}
                window.clear()
                history.append(entry)
                if step % max(log_every, steps // 10) < log_every or step == steps:  # ~10 lines per run in the log
                    log.info("contrastive: step %d/%d loss %.4f lr %.2e", step, steps, entry["loss"], lr)
                if on_log is not None:
                    on_log(entry)
    finally:
        bar.close()
        model.eval()
    return history


# ---------------------------------------------------------------------------------------------------- saving


def save_encoder(encoder: DiagramEncoder, out_dir: str | os.PathLike[str]) -> Path:
    """Write model + image processor + tokenizer into `out_dir` (what `load_encoder` reads), atomically.

    Everything is written to a temporary sibling directory first; only when it is complete does it take the place
    of `out_dir` (an existing `out_dir` is moved aside, the new one renamed in, the old one deleted). A failure
    while writing leaves the old directory untouched. Returns the directory and points `encoder.source` at it.
    """
    from tutorforge.vision.encoder import quiet_transformers

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"save_encoder: {out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = out.parent / f".{out.name}.tmp-{token}"
    old = out.parent / f".{out.name}.old-{token}"
    try:
        tmp.mkdir()
        with quiet_transformers():  # no config notes or shard bars in the stage's log
            encoder.model.save_pretrained(tmp)
            encoder.image_processor.save_pretrained(tmp)
            encoder.tokenizer.save_pretrained(tmp)
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        if old.exists() and not out.exists():
            os.replace(old, out)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    encoder.source = out
    return out
