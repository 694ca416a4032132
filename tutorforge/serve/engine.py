"""The generation engine of `tutorforge serve`: transformers' continuous batching on the served model (CPU fp32 by
default), streaming text per request, a request cancelled when its client goes away.

    engine = Engine.load("artifacts/sft/merged", cfg)          # tokenizer + model, batching manager started
    async for piece in engine.stream(prompt_ids, max_new_tokens=128):
        ...  # Piece(text="Osmosis is", tokens=3, finish_reason=None) ... Piece(text="", tokens=35, finish_reason="stop")
    engine.close()

Concurrent requests join one running batch (transformers' ContinuousBatchingManager, the engine `transformers serve`
uses; vLLM takes its place on a GPU through serve.backend later): the decode step of 8 students costs little more
than one's. The KV cache is sized by `serve.cb_num_blocks` x 256 tokens: left to itself, the manager reserves 60% of
free RAM on CPU. Requests beyond `serve.max_waiting` in flight get 429 instead of an unbounded queue.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tutorforge.core.logs import get_logger
from tutorforge.serve.config import ServeConfig

log = get_logger("serve")


class EngineBusy(RuntimeError):
    """More requests in flight than serve.max_waiting (the caller answers 429)."""


@dataclass(frozen=True)
class Piece:
    """A stretch of streamed text; the last piece of a request has its finish_reason ("stop" or "length")."""

    text: str
    tokens: int
    """Tokens generated so far (the end-of-turn token not counted)."""
    finish_reason: str | None = None


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, Any]]) -> list[int]:
    """The chat template's token ids of `messages` with the assistant turn opened (every backend renders prompts with
    the bundle's tokenizer, so they are identical whichever one generates)."""
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(out["input_ids"])


class TutorEngine(Protocol):
    """What the tutor loop needs from a model backend: Engine (in process) and remote_engine.RemoteEngine (an
    OpenAI-compatible server) both provide it."""

    tokenizer: Any
    template: str
    """The chat template (tool calls are rendered as text when it cannot render them)."""
    context_tokens: int
    """Prompt + answer tokens one request may use."""
    cancelled: int

    @property
    def in_flight(self) -> int: ...

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]: ...

    def stream(self, prompt_ids: list[int], max_new_tokens: int, probe: bool = False) -> AsyncIterator[Piece]: ...

    def close(self) -> None: ...


class Engine:
    """Tokenizer, model and a running continuous-batching manager."""

    def __init__(self, tokenizer: Any, model: Any, cfg: ServeConfig):
        from transformers import ContinuousBatchingConfig, GenerationConfig

        from tutorforge.eval.lmscore import stop_token_ids

        self.tokenizer, self.model, self.cfg = tokenizer, model, cfg
        self.template = str(getattr(tokenizer, "chat_template", "") or "")
        # prompt + answer must fit the model's positions and one request's share of the KV cache
        positions = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
        self.context_tokens = min(positions, cfg.cb_num_blocks * 256)
        self.stop_ids = set(stop_token_ids(tokenizer, model))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.stop_ids)
        gen = GenerationConfig(
            do_sample=False, max_new_tokens=cfg.max_tokens, eos_token_id=sorted(self.stop_ids), pad_token_id=pad
        )
        batching = ContinuousBatchingConfig(
            num_blocks=cfg.cb_num_blocks, max_batch_tokens=cfg.cb_max_batch_tokens, max_requests_per_batch=cfg.max_batch
        )
        self.manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=batching)
        self.manager.start()
        self._ids = itertools.count()
        self._in_flight = 0
        self.cancelled = 0  # requests whose client left before the end (their slots freed early)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: str | Path, cfg: ServeConfig) -> Engine:
        import torch

        from tutorforge.training.models import load_causal_lm, load_tokenizer

        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        tokenizer = load_tokenizer(model_dir)
        model = load_causal_lm(model_dir, dtype=torch.float32, attn_implementation="sdpa").eval()
        log.info("engine: %s loaded (%.1fM params, fp32)", model_dir, sum(p.numel() for p in model.parameters()) / 1e6)
        return cls(tokenizer, model, cfg)

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        return chat_prompt_ids(self.tokenizer, messages)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def stream(self, prompt_ids: list[int], max_new_tokens: int, probe: bool = False) -> AsyncIterator[Piece]:
        """Generate greedily after prompt_ids; yields text as it decodes. Leaving the loop early (a client that
        disconnected) cancels the request, so its batch slot and KV blocks are freed at the next step. A `probe`
        (the tutor's tool-choosing first reply, left on purpose once it is words) is not counted as cancelled."""
        from tokenizers.decoders import DecodeStream

        with self._lock:
            if self._in_flight >= self.cfg.max_waiting:
                raise EngineBusy(f"{self._in_flight} requests in flight (serve.max_waiting)")
            self._in_flight += 1
        rid = f"req-{next(self._ids)}"
        queue: asyncio.Queue[Any] = asyncio.Queue()
        finished = False
        try:
            self.manager.register_result_handler(rid, queue.put_nowait)  # before add_request: no output is missed
            self.manager.add_request(prompt_ids, request_id=rid, max_new_tokens=max_new_tokens, streaming=True)
            decoder, seen, count = DecodeStream(skip_special_tokens=True), 0, 0
            while True:
                out = await queue.get()
                if out.error:
                    raise RuntimeError(f"generation failed: {out.error}")
                text = []
                for token in out.generated_tokens[seen:]:
                    if token in self.stop_ids:
                        continue
                    count += 1
                    if piece := decoder.step(self.tokenizer._tokenizer, token):
                        text.append(piece)
                seen = len(out.generated_tokens)
                if out.is_finished():
                    finished = True
                    ended = bool(out.generated_tokens) and out.generated_tokens[-1] in self.stop_ids
                    yield Piece("".join(text), count, "stop" if ended or count < max_new_tokens else "length")
                    return
                if text:
                    yield Piece("".join(text), count)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.cancelled += not finished and not probe
            if not finished:
                self.manager.cancel_request(rid)
                self._drop_handler(rid)

    def _drop_handler(self, rid: str) -> None:
        # transformers removes a request's handler only when it finishes; a cancelled one would stay registered
        router = getattr(self.manager, "output_router", None)
        if router is not None:
            with router._lock:
                router.result_handlers.pop(rid, None)

    def close(self) -> None:
        self.manager.stop(block=True, timeout=5)
