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

A request that finds nothing else generating decodes alone (`serve.solo_decode`): the batch's per-step scheduling
costs ~9 % of a 135M model's decode step, so a lone student would be slower than a plain `generate` loop. The lone
request moves into the batch as soon as a second one arrives, and keeps its prompt's KV cache for the next lone
request (`serve.prefix_cache`: the shared system prompt is not computed again).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
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

    def stream(
        self, prompt_ids: list[int], max_new_tokens: int, probe: bool = False
    ) -> AsyncGenerator[Piece, None]: ...

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
        # the token a chat template starts each message with (ChatML: <|im_start|>); prompts are cut before it
        self.turn_start = chat_prompt_ids(tokenizer, [{"role": "user", "content": "."}])[0]
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
        self.joined = 0  # lone requests that moved into the batch when another arrived (serve.solo_decode)
        self.reused_tokens = 0  # prompt tokens lone requests took from a kept KV cache instead of computing
        self._lock = threading.Lock()
        self._solo: threading.Event | None = None  # the lone request's "join the batch" signal (serve.solo_decode)
        self._solo_thread = ThreadPoolExecutor(1, thread_name_prefix="solo-decode")
        # prompt ids -> their KV cache, kept by the decode thread for the next lone request (serve.prefix_cache)
        self._prefixes: OrderedDict[tuple[int, ...], Any] = OrderedDict()

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

    async def stream(
        self, prompt_ids: list[int], max_new_tokens: int, probe: bool = False
    ) -> AsyncGenerator[Piece, None]:
        """Generate greedily after prompt_ids; yields text as it decodes. Leaving the loop early (a client that
        disconnected) cancels the request, so its batch slot and KV blocks are freed at the next step. A `probe`
        (the tutor's tool-choosing first reply, left on purpose once it is words) is not counted as cancelled."""
        from tokenizers.decoders import DecodeStream

        with self._lock:
            if self._in_flight >= self.cfg.max_waiting:
                raise EngineBusy(f"{self._in_flight} requests in flight (serve.max_waiting)")
            self._in_flight += 1
            solo = None
            if self.cfg.solo_decode and self._in_flight == 1 and self._solo is None:
                solo = self._solo = threading.Event()  # set = join the batch
            elif self._solo is not None:
                self._solo.set()  # a second request: the one decoding alone joins the batch
        finished = False
        try:
            decoder, count, last = DecodeStream(skip_special_tokens=True), 0, None
            async with aclosing(self._tokens(prompt_ids, max_new_tokens, solo)) as produced:
                async for tokens, done in produced:
                    text = []
                    for token in tokens:
                        last = token
                        if token in self.stop_ids:
                            continue
                        count += 1
                        if piece := decoder.step(self.tokenizer._tokenizer, token):
                            text.append(piece)
                    if done:
                        finished = True
                        ended = last in self.stop_ids
                        yield Piece("".join(text), count, "stop" if ended or count < max_new_tokens else "length")
                        return
                    if text:
                        yield Piece("".join(text), count)
        finally:
            with self._lock:
                self._in_flight -= 1
                self.cancelled += not finished and not probe
                if solo is not None:
                    solo.set()  # a decode thread still running stops at its next step
                    if self._solo is solo:
                        self._solo = None

    async def _tokens(
        self, prompt_ids: list[int], max_new_tokens: int, solo: threading.Event | None
    ) -> AsyncGenerator[tuple[list[int], bool], None]:
        """(new token ids, finished) as they are generated: alone first when `solo` is given, then, once asked to
        join the batch, in the batch with the tokens generated so far appended to the prompt (a greedy continuation
        of the same text; the prefill is recomputed, as vLLM does for a preempted request)."""
        generated: list[int] = []
        if solo is not None:
            async with aclosing(self._solo_tokens(prompt_ids, max_new_tokens, solo)) as alone:
                async for tokens, done in alone:
                    generated += tokens
                    yield tokens, done
                    if done:
                        return
            self.joined += 1
            log.debug("engine: a lone request joins the batch after %d tokens", len(generated))
        async with aclosing(self._batch_tokens(prompt_ids + generated, max_new_tokens - len(generated))) as batched:
            async for tokens, done in batched:
                yield tokens, done

    async def _solo_tokens(
        self, prompt_ids: list[int], max_new_tokens: int, join: threading.Event
    ) -> AsyncGenerator[tuple[list[int], bool], None]:
        """Greedy decoding of one request with a plain KV cache in the engine's decode thread, until it finishes or
        `join` is set (then it ends without finishing: the caller continues in the batch)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def decode() -> None:
            import torch

            try:
                with torch.inference_mode():
                    starts = self.message_starts(prompt_ids)
                    cache, reused = self._cached_prefix(prompt_ids, starts)
                    # the prompt is computed a message at a time whether a kept cache covers the first messages or
                    # not: the same numbers, so the same greedy answer, either way
                    cuts = [reused, *(s for s in starts if s > reused)]
                    for start, end in itertools.pairwise(cuts):  # the messages before the last, onto the cache
                        piece = torch.tensor([prompt_ids[start:end]])
                        self.model(input_ids=piece, past_key_values=cache, use_cache=True, logits_to_keep=1)
                    ids = torch.tensor([prompt_ids[cuts[-1] :]])  # the last one: its logits give the first token
                    for n in range(1, max_new_tokens + 1):
                        out = self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
                        token = int(out.logits[0, -1].argmax())
                        done = token in self.stop_ids or n == max_new_tokens
                        put(([token], done))
                        if done or join.is_set():
                            break
                        ids = torch.tensor([[token]])
                    self._keep_prefix(prompt_ids, cache)
            except Exception as e:  # noqa: BLE001 - handed to the request, which fails with it
                put(e)
            put(None)

        self._solo_thread.submit(decode)
        while (item := await queue.get()) is not None:
            if isinstance(item, Exception):
                raise RuntimeError(f"generation failed: {item}") from item
            yield item
            if item[1]:
                return

    def message_starts(self, prompt_ids: list[int]) -> list[int]:
        """Where the prompt's messages begin after the first (the chat template's turn-start token, e.g. ChatML's
        <|im_start|>), the last start left out (the assistant's opening goes with the question): the pieces a lone
        request's prompt is computed in, and where a kept cache may be cut."""
        return [i for i, t in enumerate(prompt_ids) if t == self.turn_start and i > 0][:-1]

    def _cached_prefix(self, prompt_ids: list[int], starts: list[int]) -> tuple[Any, int]:
        """A KV cache holding the longest start of `prompt_ids` a kept prompt shares, cut at one of its message
        `starts` (taken out of the kept ones), and its length."""
        from transformers import DynamicCache

        best, shared = None, 0
        for kept in self._prefixes:
            pairs = zip(kept, prompt_ids, strict=False)
            n = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(kept), len(prompt_ids)))
            if n > shared:
                best, shared = kept, n
        # whole messages; the last token is always computed (its logits give the first new token)
        shared = max((s for s in starts if s <= min(shared, len(prompt_ids) - 1)), default=0)
        if best is None or shared < 1:
            return DynamicCache(config=self.model.config), 0
        cache = self._prefixes.pop(best)
        cache.crop(shared - cache.get_seq_length())  # crop(-n) drops the last n positions
        self.reused_tokens += shared
        return cache, shared

    def _keep_prefix(self, prompt_ids: list[int], cache: Any) -> None:
        """Keep the prompt's KV cache for the next lone request (the newest serve.prefix_cache prompts)."""
        if self.cfg.prefix_cache == 0:
            return
        cache.crop(len(prompt_ids) - cache.get_seq_length())
        for layer in cache.layers:  # crop leaves views of the longer tensors: copy, so the answer's part is freed
            layer.keys, layer.values = layer.keys.contiguous(), layer.values.contiguous()
        self._prefixes[tuple(prompt_ids)] = cache
        while len(self._prefixes) > self.cfg.prefix_cache:
            self._prefixes.popitem(last=False)

    async def _batch_tokens(
        self, prompt_ids: list[int], max_new_tokens: int
    ) -> AsyncGenerator[tuple[list[int], bool], None]:
        """The request in the continuous batch; leaving early cancels it there."""
        rid = f"req-{next(self._ids)}"
        queue: asyncio.Queue[Any] = asyncio.Queue()
        finished, seen = False, 0
        try:
            self.manager.register_result_handler(rid, queue.put_nowait)  # before add_request: no output is missed
            self.manager.add_request(prompt_ids, request_id=rid, max_new_tokens=max_new_tokens, streaming=True)
            while True:
                out = await queue.get()
                if out.error:
                    raise RuntimeError(f"generation failed: {out.error}")
                tokens, seen = out.generated_tokens[seen:], len(out.generated_tokens)
                finished = out.is_finished()
                yield tokens, finished
                if finished:
                    return
        finally:
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
        if self._solo is not None:
            self._solo.set()
        self._solo_thread.shutdown(wait=True)
        self.manager.stop(block=True, timeout=5)
