"""The frozen bottom of a partly adapted model, computed once per training row and then served from memory.

With LoRA on the top 10 of SmolLM2-135M's 30 layers (`sft.lora_layers`), the 20 layers below get no adapters and no
gradient: their output for a given row is the same at every epoch. They are still about half of a training step's
FLOPs (forward-only there, forward + backward above), so every epoch after the first pays for them again for nothing.
This cache keeps each row's output of the frozen layers (the hidden state entering the lowest adapted layer) and serves
it on later visits, so an epoch after the first costs roughly the adapted layers only (benchmarks/train.py measures it).

    cache = FrozenLayerCache(model, frozen=20)    # layers 0..19 of the decoder
    with cache:                                   # installed for training, removed before saving/merging
        trainer.train()
    cache.stats                                   # {"rows_cached": 381, "hits": 444, "misses": 381, "mb": 214.3}

No library does this: transformers, PEFT and TRL recompute every layer at every step (a KV/prefix cache serves
generation, not training). It is exact, not an approximation, and refuses to install where it would not be:
a frozen layer with a trainable parameter, or dropout inside the frozen layers while training.

Rows are keyed by a hash of what the frozen layers see: the input embeddings (a pure function of the token ids: the
embedding layer must be frozen too), the row's position ids and, for rows with shared system turns, its 4-D segment
mask. For other packed rows (training/sft_data.py: no attention_mask, position ids restarting at each example) the
mask is a function of the position ids, so they are the packing boundaries; the stage installs the cache only for
packed training. Rows must also have one width in every
batch (PackedCollator's `pad_to`), or a row padded differently is a new entry. Layer 0 of the
decoder computes (or fetches) the output of all frozen layers for its batch; layers 1..frozen-1 pass it through.
Generation (a KV cache in use) and anything the hooks cannot key bypass the cache and run the layers as they are.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tutorforge.core.logs import get_logger

log = get_logger(__name__)


def decoder(model: Any) -> Any:
    """The decoder (the module holding the transformer layer list) of a causal LM, through PEFT's wrappers
    (model.model for Llama)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, "model", None)
    if getattr(inner, "layers", None) is None:
        raise ValueError(f"{type(base).__name__}: no decoder layer list (model.model.layers)")
    return inner


def decoder_layers(model: Any) -> Any:
    """The transformer layer list of a causal LM (model.model.layers for Llama)."""
    return decoder(model).layers


class FrozenLayerCache:
    """Serve the output of decoder layers [0, frozen) per row from memory after the first time (see module doc)."""

    def __init__(self, model: Any, frozen: int, max_mb: float = 2048.0) -> None:
        self.decoder = decoder(model)
        self.layers = self.decoder.layers
        if not 0 < frozen < len(self.layers):
            raise ValueError(f"frozen layers: {frozen} not in 1..{len(self.layers) - 1}")
        trainable = [n for i in range(frozen) for n, p in self.layers[i].named_parameters() if p.requires_grad]
        embed = model.get_input_embeddings()
        if trainable or any(p.requires_grad for p in embed.parameters()):
            raise ValueError(f"cannot cache layers with trainable parameters: {(trainable or ['embeddings'])[0]}")
        drop = [
            n
            for i in range(frozen)
            for n, m in self.layers[i].named_modules()
            if (getattr(m, "p", 0) or getattr(m, "attention_dropout", 0)) and "drop" in type(m).__name__.lower()
        ]
        attn_drop = float(getattr(getattr(model, "config", None), "attention_dropout", 0.0) or 0.0)
        if drop or attn_drop:
            raise ValueError("cannot cache layers with dropout: their output changes from one visit to the next")
        self.frozen, self.max_bytes = frozen, int(max_mb * 2**20)
        self.store: dict[bytes, Any] = {}
        self.hits = self.misses = self.bytes = 0
        self._originals: list[Any] = []
        self._hook: Any = None
        self._given_mask: Any = None

    # ---- install / remove ------------------------------------------------------------------------------------------
    def __enter__(self) -> FrozenLayerCache:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def install(self) -> None:
        """Route layer 0 through the cache and make layers 1..frozen-1 pass through (instance attributes only: the
        modules, their names and the state dict stay as they are)."""
        if self._originals:
            return
        self._hook = self.decoder.register_forward_pre_hook(self._capture_mask, with_kwargs=True)
        self._originals = [self.layers[i].forward for i in range(self.frozen)]
        self.layers[0].forward = self._bottom
        for i in range(1, self.frozen):
            self.layers[i].forward = self._make_pass(i)

    def remove(self) -> None:
        """Put the layers' own forward back (the cache keeps its rows; `clear()` drops them)."""
        for i in range(len(self._originals)):
            self.layers[i].__dict__.pop("forward", None)
        self._originals = []
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def clear(self) -> None:
        self.store.clear()
        self.bytes = 0

    @property
    def stats(self) -> dict[str, float]:
        return {
            "rows_cached": len(self.store),
            "hits": self.hits,
            "misses": self.misses,
            "mb": round(self.bytes / 2**20, 1),
        }

    # ---- the hooks ---------------------------------------------------------------------------------------------------
    def _cacheable(self, hidden: Any, kw: dict[str, Any]) -> bool:
        return (
            kw.get("past_key_values") is None
            and not kw.get("use_cache")
            and hidden.dim() == 3
            and isinstance(kw.get("position_embeddings"), tuple)
            and getattr(kw.get("position_ids"), "dim", lambda: 0)() == 2
        )

    def _make_pass(self, i: int) -> Any:
        original = self._originals[i]

        def forward(hidden_states: Any, *args: Any, **kw: Any) -> Any:
            if self._passing:
                return hidden_states
            return original(hidden_states, *args, **kw)

        return forward

    _passing = False

    def _capture_mask(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        """The attention mask the caller gave the decoder, when it is a 4-D one of its own (shared system turns,
        training/sft_data.segment_mask): part of the key. Masks transformers builds from the position ids are not:
        they follow from the position ids, and a batch of unpacked rows gets none at all."""
        mask = kwargs.get("attention_mask")
        self._given_mask = mask if getattr(mask, "dim", lambda: 0)() == 4 else None

    def _run(self, hidden: Any, kw: dict[str, Any]) -> Any:
        for f in self._originals:
            hidden = f(hidden, **kw)
        return hidden

    def _bottom(self, hidden_states: Any, *args: Any, **kw: Any) -> Any:
        """Layer 0's forward while installed: the output of layers [0, frozen) for the whole batch."""
        import torch

        if args or not self._cacheable(hidden_states, kw):
            self._passing = False
            return self._originals[0](hidden_states, *args, **kw)
        batch = hidden_states.shape[0]
        keys = [self._key(hidden_states, kw, b, self._given_mask) for b in range(batch)]
        missing = [b for b, k in enumerate(keys) if k not in self.store]
        if missing:
            with torch.no_grad():
                out = self._run(hidden_states[missing], _rows(kw, missing, batch))
            for j, b in enumerate(missing):
                row = out[j].detach().clone()
                if self.bytes + row.numel() * row.element_size() <= self.max_bytes:
                    self.store[keys[b]] = row
                    self.bytes += row.numel() * row.element_size()
            computed = {b: out[j] for j, b in enumerate(missing)}
        else:
            computed = {}
        self.misses += len(missing)
        self.hits += batch - len(missing)
        self._passing = True  # layers 1..frozen-1 pass the result through on this forward
        return torch.stack([computed[b] if b in computed else self.store[keys[b]] for b in range(batch)])

    @staticmethod
    def _key(hidden: Any, kw: dict[str, Any], b: int, mask: Any = None) -> bytes:
        h = hashlib.blake2b(digest_size=20)
        h.update(repr((tuple(hidden.shape[1:]), str(hidden.dtype))).encode())
        h.update(hidden[b].detach().contiguous().cpu().numpy().tobytes())
        pos = kw["position_ids"]
        row = pos[b] if pos.shape[0] == hidden.shape[0] else pos[0]
        h.update(row.detach().contiguous().cpu().numpy().tobytes())
        if mask is not None:  # a segment mask (shared system turns) is part of what the layers see
            h.update((mask[b] if mask.shape[0] == hidden.shape[0] else mask[0]).contiguous().cpu().numpy().tobytes())
        return h.digest()


def _rows(kw: dict[str, Any], rows: list[int], batch: int) -> dict[str, Any]:
    """The layer keyword arguments for a subset of a batch's rows (tensors batched on dim 0 are sliced)."""

    def take(v: Any) -> Any:
        if hasattr(v, "shape") and v.dim() > 0 and v.shape[0] == batch and batch > 1:
            return v[rows]
        if isinstance(v, tuple):
            return tuple(take(x) for x in v)
        return v

    return {k: take(v) for k, v in kw.items()}
