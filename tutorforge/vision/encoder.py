"""Any CLIP- or SigLIP-family checkpoint behind one interface: image/text embeddings, patch features, zero-shot.

One loading path for every profile: :func:`load_encoder` takes a local directory (the small SigLIP that
``tutorforge.vision.contrastive`` trains from scratch and saves) or a hub id (``google/siglip-base-patch16-224``,
``openai/clip-vit-base-patch32`` on GPU profiles) and loads it with ``AutoModel`` / ``AutoImageProcessor`` /
``AutoTokenizer``. Anything else (a missing directory, a hub id that is not cached while offline, a model that is
not CLIP/SigLIP, a broken checkpoint) raises :class:`EncoderError` with a one-line message naming the reference.

Text conventions, the ones each family was trained with:

* SigLIP: texts are always padded to ``max_position_embeddings`` (``padding="max_length"``): the text tower pools
  the LAST position, so padding to the longest text in a batch would change a text's embedding with its batch;
* CLIP: texts are padded to the longest one in the batch (the text tower pools the first EOS token under a causal
  mask, so padding after it changes nothing).

Both get the tokenizer's ``attention_mask`` where it returns one, as transformers v5 feeds them (its SigLIP tokenizer
returns a mask, and the zero-shot pipeline passes it on). For the small SigLIP trained here the mask matters: the
pooled padding position then reads only the caption's tokens, which trains far more reliably than letting it
average over padding (measured: no run stuck at the collapsed optimum in 20 seeds, against 2 in 12 without).

:mod:`tutorforge.vision.contrastive` trains through :meth:`DiagramEncoder.tokenize` too, so training and inference
see the same inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "DiagramEncoder",
    "EncoderError",
    "class_embeddings",
    "load_encoder",
    "zero_shot",
]

EncoderKind = Literal["clip", "siglip"]

#: config.model_type -> kind. SigLIP2 is left out on purpose: its NaFlex image processor returns variable patch
#: grids (pixel_attention_mask, spatial_shapes), which the fixed-size interface here does not model.
SUPPORTED_MODEL_TYPES: dict[str, EncoderKind] = {"clip": "clip", "siglip": "siglip"}

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


class EncoderError(ValueError):
    """A checkpoint that cannot serve as a diagram encoder (the message is one line and names the reference)."""


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message, with its type, shortened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _l2(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.float(), p=2.0, dim=-1)


def _pooled(output: Any) -> torch.Tensor:
    """``get_image_features`` / ``get_text_features`` return a ModelOutput (pooler_output) in transformers v5 and a
    tensor in v4: accept both."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    if isinstance(output, tuple) and len(output) > 1 and isinstance(output[1], torch.Tensor):
        return output[1]
    raise TypeError(f"cannot find pooled features in {type(output).__name__}")


@dataclass
class DiagramEncoder:
    """A loaded CLIP/SigLIP model with its image processor and tokenizer.

    Embedding methods run under ``torch.no_grad()`` (not inference mode, so their outputs can feed a trainable
    projector); the model itself is left trainable so :func:`tutorforge.vision.contrastive.train_contrastive`
    can train it in place.
    """

    model: Any
    """The ``CLIPModel`` / ``SiglipModel``."""
    image_processor: Any
    """Its image processor (resize + normalise to the model's input size)."""
    tokenizer: Any
    """Its tokenizer."""
    kind: EncoderKind
    """``"clip"`` (softmax contrastive loss, logits = scale * cos) or ``"siglip"`` (sigmoid loss, + bias)."""
    text_max_length: int
    """Texts are truncated to this many tokens (SigLIP: always padded to it)."""
    source: Path | None = None
    """The directory the weights were loaded from (``None`` once they changed in memory): what :meth:`digest`
    hashes."""

    # -- shapes ------------------------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def image_size(self) -> int:
        """The (square) input size of the vision tower in pixels."""
        size = self.model.config.vision_config.image_size
        return int(size[0] if isinstance(size, (list, tuple)) else size)

    @property
    def patch_size(self) -> int:
        size = self.model.config.vision_config.patch_size
        return int(size[0] if isinstance(size, (list, tuple)) else size)

    @property
    def num_patches(self) -> int:
        """Patch tokens per image (what :meth:`patch_features` returns per image, CLS excluded)."""
        return (self.image_size // self.patch_size) ** 2

    @property
    def embed_dim(self) -> int:
        """Size of the joint image-text embedding."""
        if self.kind == "clip":
            return int(self.model.config.projection_dim)
        return int(self.model.config.vision_config.hidden_size)

    @property
    def hidden_size(self) -> int:
        """Width of the vision tower's hidden states (what :meth:`patch_features` returns per patch)."""
        return int(self.model.config.vision_config.hidden_size)

    # -- inputs ------------------------------------------------------------------------------------------------

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Preprocess images into the model's ``pixel_values`` (float32, on CPU)."""
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        out = self.image_processor(images=rgb, return_tensors="pt")
        return out["pixel_values"].float()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenize texts the way this family was trained (see the module docstring); tensors on CPU.

        Returns ``input_ids`` and, when the tokenizer produces one, ``attention_mask``."""
        padding = "max_length" if self.kind == "siglip" else "longest"
        enc = self.tokenizer(
            list(texts), padding=padding, max_length=self.text_max_length, truncation=True, return_tensors="pt"
        )
        out = {"input_ids": enc["input_ids"]}
        if "attention_mask" in enc:
            out["attention_mask"] = enc["attention_mask"]
        return out

    # -- features ----------------------------------------------------------------------------------------------

    def _image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model.get_image_features(pixel_values=pixel_values.to(self.device, self.dtype))
        return _pooled(out)

    def _text_features(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = self.model.get_text_features(**{k: v.to(self.device) for k, v in batch.items()})
        return _pooled(out)

    def embed_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> torch.Tensor:
        """L2-normalised image embeddings, float32 on CPU, shape ``[n, embed_dim]``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunks: list[torch.Tensor] = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                pixels = self.pixel_values(images[start : start + batch_size])
                chunks.append(_l2(self._image_features(pixels)).cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, self.embed_dim)

    def embed_texts(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """L2-normalised text embeddings, float32 on CPU, shape ``[n, embed_dim]``."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not one string")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunks: list[torch.Tensor] = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenize(texts[start : start + batch_size])
                chunks.append(_l2(self._text_features(batch)).cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, self.embed_dim)

    def patch_features(self, images: Sequence[Image.Image], batch_size: int = 32) -> torch.Tensor:
        """The vision tower's last hidden state for the patch tokens, float32 on CPU: ``[n, num_patches, hidden]``.

        No CLS token: SigLIP has none; CLIP's (position 0) is dropped so both families return the same layout,
        patches in row-major order. SigLIP's states are after its ``post_layernorm``; CLIP applies its
        ``post_layernorm`` only to the pooled CLS token, so its patch states are the raw last-layer output.
        """
        chunks: list[torch.Tensor] = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                pixels = self.pixel_values(images[start : start + batch_size]).to(self.device, self.dtype)
                hidden = self.model.vision_model(pixel_values=pixels).last_hidden_state
                if self.kind == "clip":
                    hidden = hidden[:, 1:, :]
                chunks.append(hidden.float().cpu())
        return torch.cat(chunks) if chunks else torch.empty(0, self.num_patches, self.hidden_size)

    def scores(self, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
        """The model's own logits ``[n_images, n_texts]`` for normalised embeddings: ``exp(logit_scale) * cos``
        (+ ``logit_bias`` for SigLIP; ``sigmoid`` of it is SigLIP's match probability, a softmax over texts is
        CLIP's)."""
        with torch.no_grad():
            scale = self.model.logit_scale.detach().float().cpu().exp()
            logits = (image_emb.float().cpu() @ text_emb.float().cpu().T) * scale
            if self.kind == "siglip":
                logits = logits + self.model.logit_bias.detach().float().cpu()
        return logits

    def digest(self) -> str:
        """sha256 over the checkpoint's weight files (names and bytes, sorted by name: the ``*.safetensors``, or the
        ``*.bin``/``*.pt`` where there are none); for weights that changed in memory since loading (``source`` is
        ``None``), over the state dict instead."""
        h = hashlib.sha256()
        files: list[Path] = []
        if self.source is not None and self.source.is_dir():
            present = sorted(p for p in self.source.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
            safetensors = [p for p in present if p.name.endswith(".safetensors")]
            files = safetensors or present
        if files:
            for path in files:
                h.update(path.name.encode() + b"\0")
                with path.open("rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        h.update(block)
            return h.hexdigest()
        for name, tensor in sorted(self.model.state_dict().items()):
            t = tensor.detach().cpu().contiguous().reshape(-1)
            h.update(f"{name}:{t.dtype}:{tuple(tensor.shape)}\0".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return h.hexdigest()


def _text_max_length(model: Any, tokenizer: Any) -> int:
    positions = int(model.config.text_config.max_position_embeddings)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < positions:
        return tok_max
    return positions


def _resolve_dir(ref: str) -> Path | None:
    """The local directory holding ``ref``'s files (the ref itself, or its hub-cache snapshot), if any."""
    if Path(ref).is_dir():
        return Path(ref)
    try:
        from transformers.utils.hub import cached_file

        found = cached_file(ref, "config.json", local_files_only=True)
    except Exception:
        return None
    return Path(found).parent if found else None


def load_encoder(ref: str, device: str = "cpu") -> DiagramEncoder:
    """Load a CLIP- or SigLIP-family checkpoint (local directory or hub id) as a :class:`DiagramEncoder`.

    The model is moved to ``device`` and put in eval mode. Raises :class:`EncoderError` (one line, naming
    ``ref``) for a missing directory / a hub id not found (offline), a model of another family, or a broken
    checkpoint (unreadable weights, missing weights, unloadable processor or tokenizer).
    """
    with quiet_transformers():  # its config notes and weight bars would bury the one-line reason of a failure
        return _load(ref, device)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' warnings and progress bars off meanwhile (restored after): loading or saving the small SigLIP
    prints notes about its text config's unused CLIP bos/eos ids and a weights bar; a stage's stderr and a server's
    start-up error stay one line."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _load(ref: str, device: str) -> DiagramEncoder:
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoTokenizer

    ref = str(ref)
    path = Path(ref).expanduser()
    looks_local = path.is_absolute() or ref.startswith((".", "~")) or path.exists()
    if looks_local and not path.exists():
        raise EncoderError(f"encoder {ref!r}: no such directory")
    if path.exists() and not path.is_dir():
        raise EncoderError(f"encoder {ref!r}: not a directory")
    if path.is_dir():
        ref = str(path)
        if not (path / "config.json").is_file():
            raise EncoderError(f"encoder {ref!r}: no config.json in the directory (not a saved checkpoint)")
    where = "directory" if path.is_dir() else "hub id"

    try:
        config = AutoConfig.from_pretrained(ref)
    except Exception as exc:
        raise EncoderError(
            f"encoder {ref!r}: cannot read the config of this {where} (missing, or not cached while offline): "
            f"{_one_line(exc)}"
        ) from exc
    model_type = str(getattr(config, "model_type", ""))
    kind = SUPPORTED_MODEL_TYPES.get(model_type)
    if kind is None:
        raise EncoderError(
            f"encoder {ref!r}: model_type {model_type!r} is not a CLIP/SigLIP model "
            f"(supported: {', '.join(sorted(SUPPORTED_MODEL_TYPES))})"
        )

    try:
        model, info = AutoModel.from_pretrained(ref, output_loading_info=True)
    except Exception as exc:
        raise EncoderError(f"encoder {ref!r}: broken checkpoint, cannot load the weights: {_one_line(exc)}") from exc
    missing = sorted(info.get("missing_keys") or [])
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or mismatched:
        detail = f"missing weights {missing[:3]}" if missing else f"mismatched shapes {mismatched[:3]}"
        raise EncoderError(f"encoder {ref!r}: broken checkpoint, {detail}")

    try:
        image_processor = AutoImageProcessor.from_pretrained(ref)
    except Exception as exc:
        raise EncoderError(f"encoder {ref!r}: cannot load the image processor: {_one_line(exc)}") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref)
    except Exception as exc:
        raise EncoderError(f"encoder {ref!r}: cannot load the tokenizer: {_one_line(exc)}") from exc

    try:
        model = model.to(device)
    except Exception as exc:
        raise EncoderError(f"encoder {ref!r}: cannot move the model to {device!r}: {_one_line(exc)}") from exc
    model.eval()
    return DiagramEncoder(
        model=model,
        image_processor=image_processor,
        tokenizer=tokenizer,
        kind=kind,
        text_max_length=_text_max_length(model, tokenizer),
        source=_resolve_dir(ref),
    )


def class_embeddings(
    encoder: DiagramEncoder, class_texts: Mapping[str, Sequence[str]]
) -> tuple[list[str], torch.Tensor]:
    """One embedding per class: the mean of its prompts' normalised embeddings, re-normalised.

    Returns ``(labels, tensor [n_classes, embed_dim])`` in the mapping's order; cache it and pass it to
    :func:`zero_shot` as ``class_emb``.
    """
    labels = list(class_texts)
    if not labels:
        raise ValueError("class_texts is empty")
    prompts: list[str] = []
    owner: list[int] = []
    for i, label in enumerate(labels):
        texts = class_texts[label]
        if isinstance(texts, str):
            texts = [texts]
        if not texts:
            raise ValueError(f"class {label!r} has no prompts")
        prompts.extend(texts)
        owner.extend([i] * len(texts))
    emb = encoder.embed_texts(prompts)
    index = torch.tensor(owner)
    sums = torch.zeros(len(labels), emb.shape[1]).index_add_(0, index, emb)
    return labels, _l2(sums / torch.bincount(index, minlength=len(labels)).unsqueeze(1).float())


def zero_shot(
    encoder: DiagramEncoder,
    images: Sequence[Image.Image],
    class_texts: Mapping[str, Sequence[str]] | None = None,
    *,
    class_emb: tuple[Sequence[str], torch.Tensor] | None = None,
) -> list[list[tuple[str, float]]]:
    """CLIP-style zero-shot classification.

    For each image, every class ranked best first with its cosine similarity to the class embedding (see
    :func:`class_embeddings`; pass a cached ``class_emb`` to skip re-embedding the prompts). The cosine is the
    product's "cosine-similarity confidence": comparable across images for one encoder, not a probability.
    """
    if class_emb is None:
        if class_texts is None:
            raise ValueError("zero_shot needs class_texts or class_emb")
        class_emb = class_embeddings(encoder, class_texts)
    labels: Sequence[str] = class_emb[0]
    cls = class_emb[1]
    if len(labels) != cls.shape[0]:
        raise ValueError(f"{len(labels)} labels but {cls.shape[0]} class embeddings")
    img = encoder.embed_images(images)
    sims = img @ cls.float().cpu().T
    order = torch.argsort(sims, dim=1, descending=True, stable=True)
    return [[(labels[int(j)], float(sims[i, int(j)])) for j in order[i].tolist()] for i in range(sims.shape[0])]
