"""POST /v1/completions: OpenAI's completions format on the served model, the part of an OpenAI-compatible server
that serve.backend openai uses (so one `tutorforge serve` can be another's backend, as vLLM is on a GPU).

    {"model": "tutorforge-tutor:v3", "prompt": [1, 9426, 314] or "Osmosis is", "max_tokens": 64, "stream": true,
     "stream_options": {"include_usage": true}}
    -> {"id": "cmpl-...", "object": "text_completion", "model": "tutorforge-tutor:v3",
        "choices": [{"index": 0, "text": " the movement of water ...", "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 35, "total_tokens": 38}}

One prompt per request: a string (tokenized as vLLM does, with the special tokens the tokenizer adds) or a list of
token ids. Decoding is greedy (`temperature`/`top_p` accepted, no effect); `max_tokens` defaults to
serve.default_max_tokens and may be at most serve.max_tokens. 400 for a prompt that leaves no room for max_tokens in
the model's context, an id outside the vocabulary, and options not implemented here (stop, echo, logprobs, suffix,
n/best_of > 1) rather than ignoring them. Streamed: `text_completion` chunks as server-sent events, the finish_reason
in the last one, a usage chunk (choices []) with stream_options.include_usage, then `data: [DONE]`.

`started_stream` begins any event stream of the app: it runs the stream up to its first event(s) before the response
starts, so an engine that cannot start (busy, a backend that is down) is an HTTP error, not a 200 that breaks off; a
failure after that arrives as an OpenAI error event (`data: {"error": {...}}`, which the openai client raises).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tutorforge.serve.config import ServeConfig
from tutorforge.serve.engine import EngineBusy, TutorEngine
from tutorforge.serve.remote_engine import BackendError


class CompletionRequest(BaseModel):
    """The OpenAI completions fields read here (others, e.g. `user` or `seed`, are ignored)."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    prompt: str | list[Any]
    max_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int = 1
    best_of: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None
    stop: str | list[str] | None = None


def prompt_tokens(prompt: str | list[Any], tokenizer: Any) -> list[int]:
    """The prompt's token ids (a batch of one prompt is that prompt); HTTPException 400 for anything else."""
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]
    if isinstance(prompt, str):
        ids = list(tokenizer(prompt)["input_ids"]) if prompt else []
    elif all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        ids = list(prompt)
        vocab = len(tokenizer)
        if bad := [t for t in ids if not 0 <= t < vocab]:
            raise HTTPException(400, f"prompt: token id {bad[0]} is not in the vocabulary (0..{vocab - 1})")
    else:
        raise HTTPException(400, "prompt: one prompt per request, a string or a list of token ids")
    if not ids:
        raise HTTPException(400, "prompt: empty")
    return ids


def refused_option(req: CompletionRequest) -> str | None:
    """Why the request asks for something not implemented here (None if it does not)."""
    if req.n != 1 or (req.best_of or 1) != 1:
        return "n: only 1 completion per request (best_of too)"
    if req.echo:
        return "echo: not supported"
    if req.logprobs is not None:
        return "logprobs: not supported"
    if req.suffix:
        return "suffix: not supported"
    if req.stop:
        return "stop: stop sequences are not supported (the model stops at its end-of-turn token)"
    return None


async def started_stream(events: AsyncIterator[str], first: int = 1) -> AsyncIterator[str]:
    """`events` run up to its `first` events before the response starts: EngineBusy then is 429 and BackendError
    its 502/503 (raised to the app's handler); a failure after that is sent as an OpenAI error event."""
    head: list[str] = []
    try:
        while len(head) < first:
            head.append(await anext(events))
    except StopAsyncIteration:
        pass
    except EngineBusy as e:
        raise HTTPException(429, str(e), headers={"Retry-After": "1"}) from None
    return _resumed(head, events)


async def _resumed(head: list[str], events: AsyncIterator[str]) -> AsyncIterator[str]:
    try:
        for event in head:
            yield event
        async for event in events:
            yield event
    except BackendError as e:
        yield f"data: {json.dumps({'error': {'message': str(e), 'type': 'server_error', 'code': e.code}})}\n\n"
    except EngineBusy as e:
        yield f"data: {json.dumps({'error': {'message': str(e), 'type': 'rate_limit_error', 'code': None}})}\n\n"
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()  # a client that left: the engine's request is cancelled now, not when garbage-collected


def add_completion_routes(
    app: FastAPI,
    engine: TutorEngine,
    cfg: ServeConfig,
    authorized: Callable[..., Any],
    model_id: str,
    on_usage: Callable[[int, int], None] | None = None,
) -> None:
    """POST /v1/completions on `app`, behind the `authorized` dependency; `on_usage(prompt, completion)` after each."""

    def usage(prompt: int, completion: int) -> dict[str, int]:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    @app.post("/v1/completions", dependencies=[Depends(authorized)])
    async def completions(req: CompletionRequest) -> Any:
        if req.model not in (None, "", model_id):
            raise HTTPException(400, f"model: {req.model!r} is not served here (GET /v1/models lists {model_id!r})")
        if problem := refused_option(req):
            raise HTTPException(400, problem)
        wanted = req.max_tokens or cfg.default_max_tokens
        if wanted > cfg.max_tokens:
            raise HTTPException(400, f"max_tokens: {wanted} > {cfg.max_tokens} (serve.max_tokens)")
        ids = prompt_tokens(req.prompt, engine.tokenizer)
        if len(ids) + wanted > engine.context_tokens:
            raise HTTPException(
                400,
                f"prompt: {len(ids)} tokens; with max_tokens {wanted} it exceeds the model's context of "
                f"{engine.context_tokens}",
            )
        if engine.in_flight >= cfg.max_waiting:
            raise HTTPException(429, "the tutor is busy: retry shortly", headers={"Retry-After": "1"})
        cid, created = "cmpl-" + uuid.uuid4().hex[:24], int(time.time())

        def body(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return {"id": cid, "object": "text_completion", "created": created, "model": model_id, "choices": choices}

        def choice(text: str, finish: str | None) -> dict[str, Any]:
            return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}

        if not req.stream:
            text, tokens, finish = [], 0, "stop"
            try:
                async for piece in engine.stream(ids, wanted):
                    text.append(piece.text)
                    tokens, finish = piece.tokens, piece.finish_reason or finish
            except EngineBusy as e:
                raise HTTPException(429, str(e), headers={"Retry-After": "1"}) from None
            if on_usage:
                on_usage(len(ids), tokens)
            return body([choice("".join(text), finish)]) | {"usage": usage(len(ids), tokens)}

        async def events() -> AsyncIterator[str]:
            tokens, finish = 0, "stop"
            async for piece in engine.stream(ids, wanted):
                if piece.text:
                    yield f"data: {json.dumps(body([choice(piece.text, None)]))}\n\n"
                tokens, finish = piece.tokens, piece.finish_reason or finish
            if on_usage:
                on_usage(len(ids), tokens)
            yield f"data: {json.dumps(body([choice('', finish)]))}\n\n"
            if (req.stream_options or {}).get("include_usage"):
                yield f"data: {json.dumps(body([]) | {'usage': usage(len(ids), tokens)})}\n\n"
            yield "data: [DONE]\n\n"

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(await started_stream(events()), media_type="text/event-stream", headers=headers)
