"""serve.backend openai: the model runs on any OpenAI-compatible server (vLLM on a GPU: sky/serve.yaml), behind the
same tutor loop as the in-process Engine.

    engine = open_engine(bundle.model_dir, cfg)       # Engine.load (backend transformers) or RemoteEngine.connect
    async for piece in engine.stream(prompt_ids, max_new_tokens=128):
        ...  # Piece(text="Osmosis is", tokens=3) ... Piece(text="", tokens=35, finish_reason="stop")

The bundle's tokenizer stays here: the chat template and the context length come from the bundle, so the prompt's
token ids are exactly the in-process backend's. They go to the server's POST /v1/completions as a list of ids
(`{"model", "prompt": [ids], "max_tokens", "temperature": 0, "stream": true, "stream_options": {"include_usage":
true}}`) and the server-sent events come back as Pieces. Leaving the `async for` early closes the HTTP stream (vLLM
aborts a request whose client went away). The server's key comes from TUTORFORGE_BACKEND_API_KEY only and goes to
serve.backend_url's origin only: redirects are never followed, and the key is never logged.

Failures are BackendError, which the app answers in the OpenAI error shape: 503 when the server cannot be reached,
502 for a server that answers with an error, a redirect, nothing for serve.backend_timeout_s, or a stream that is
malformed or lies (text past its end, more than max_tokens, no [DONE]). The server's 429 is EngineBusy (429 here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tutorforge.core.logs import get_logger
from tutorforge.serve.config import BACKEND_KEY_ENV, ServeConfig
from tutorforge.serve.engine import Engine, EngineBusy, Piece, TutorEngine, chat_prompt_ids

log = get_logger("serve")

MAX_LINE_BYTES = 1 << 20  # one server-sent event line; a server that sends more without a newline is lying
MAX_ERROR_BYTES = 4096  # of an error response's body, read to quote its message
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class BackendError(RuntimeError):
    """The model backend failed; `status` is the HTTP status to answer with (503 unreachable, 502 otherwise)."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status
        self.code = "backend_unavailable" if status == 503 else "backend_error"


class BackendMismatch(BackendError):
    """The server answers but cannot be ours: it refuses the key, lists no model, or not serve.backend_model."""


def open_engine(model_dir: str | Path, cfg: ServeConfig) -> TutorEngine:
    """The engine serve.backend names: in process (Engine.load) or an OpenAI-compatible server (RemoteEngine; the
    same interface, so the tutor loop cannot tell them apart)."""
    if cfg.backend == "openai":
        return RemoteEngine.connect(model_dir, cfg)
    return Engine.load(model_dir, cfg)


class RemoteEngine:
    """Engine's interface over an OpenAI-compatible server's /v1/completions (streamed), tokenizer kept here."""

    def __init__(self, tokenizer: Any, cfg: ServeConfig, context_tokens: int, key: str = "") -> None:
        self.tokenizer, self.cfg = tokenizer, cfg
        self.template = str(getattr(tokenizer, "chat_template", "") or "")
        self.context_tokens = context_tokens
        self.base_url = cfg.backend_url.rstrip("/")
        self.model = cfg.backend_model
        self._key = key
        self._in_flight = 0
        self.cancelled = 0  # requests whose client left before the end (their HTTP stream closed: the server aborts)
        self.failed = 0  # requests the backend failed
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def connect(cls, model_dir: str | Path, cfg: ServeConfig, environ: Mapping[str, str] = os.environ) -> RemoteEngine:
        """The bundle's tokenizer and context length, and a first look at the server (GET /v1/models): the model id
        to send when serve.backend_model is "", and its max_model_len when it says one (vLLM does). A server that
        does not answer yet is only a warning (requests get 503 until it does); one that refuses the key or does not
        serve backend_model is a BackendError."""
        from transformers import AutoConfig

        from tutorforge.training.models import load_tokenizer

        tokenizer = load_tokenizer(model_dir)
        try:
            positions = int(getattr(AutoConfig.from_pretrained(model_dir), "max_position_embeddings", 0) or 2048)
        except (OSError, ValueError):
            positions = 2048
        engine = cls(tokenizer, cfg, positions, environ.get(BACKEND_KEY_ENV, "").strip())
        origin = urlsplit(engine.base_url)
        if engine._key and origin.scheme == "http" and origin.hostname not in LOOPBACK:
            log.warning("backend: %s is plain http: its API key travels unencrypted (use https)", engine.base_url)
        engine.probe()
        return engine

    def probe(self) -> None:
        """GET /v1/models once, synchronously (start-up)."""
        try:
            with (
                httpx.Client(timeout=min(self.cfg.backend_timeout_s, 10.0), follow_redirects=False) as client,
                client.stream("GET", f"{self.base_url}/models", headers=self._headers()) as resp,
            ):
                body = b""
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_LINE_BYTES:
                        break
        except httpx.HTTPError as e:
            log.warning(
                "backend: %s does not answer yet (%s): chat requests get 503 until it does", self.base_url, reason(e)
            )
            return
        if resp.status_code in (401, 403):
            raise BackendMismatch(
                f"serve.backend_url {self.base_url}: the server refused the key in {BACKEND_KEY_ENV} "
                f"(HTTP {resp.status_code})"
            )
        try:
            self._take_models(resp.status_code, body)
        except BackendMismatch:
            raise
        except BackendError as e:
            log.warning("backend: %s: %s", self.base_url, e)
            return
        log.info("backend: %s serves %s (context %d tokens)", self.base_url, self.model, self.context_tokens)

    def _take_models(self, status: int, body: bytes) -> None:
        """Read a GET /v1/models answer: the model to send and its context length."""
        if len(body) > MAX_LINE_BYTES:
            raise BackendError("GET /models: an answer over 1 MiB")
        if not 200 <= status < 300:
            raise BackendError(f"GET /models answered HTTP {status}")
        try:
            cards = json.loads(body)["data"]
            ids = [str(c["id"]) for c in cards]
        except (ValueError, KeyError, TypeError):
            raise BackendError("GET /models: not an OpenAI model list") from None
        if not ids:
            raise BackendMismatch(f"serve.backend_url {self.base_url}: the server lists no model")
        if self.model and self.model not in ids:
            raise BackendMismatch(
                f"serve.backend_model {self.model!r} is not served by {self.base_url} (it lists {ids})"
            )
        self.model = self.model or ids[0]
        card = cards[ids.index(self.model)]
        limit = card.get("max_model_len") if isinstance(card, dict) else None
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            self.context_tokens = min(self.context_tokens, limit)

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        return chat_prompt_ids(self.tokenizer, messages)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _http(self) -> httpx.AsyncClient:
        """One pooled client per event loop (the app's), made on first use."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            t = self.cfg.backend_timeout_s
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(t),
                follow_redirects=False,  # the key goes to backend_url's origin only
                limits=httpx.Limits(max_connections=self.cfg.max_waiting + 4, max_keepalive_connections=16),
            )
            self._client_loop = loop
        return self._client

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    async def _resolve_model(self) -> str:
        """serve.backend_model, or the first id the server lists (asked once; start-up may have found it)."""
        if not self.model:
            async with self._http().stream("GET", f"{self.base_url}/models", headers=self._headers()) as resp:
                if not resp.is_success:
                    await self._fail(resp)
                body = b""
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_LINE_BYTES:
                        break
            self._take_models(resp.status_code, body)
        return self.model

    async def _fail(self, resp: httpx.Response) -> None:
        """Raise for a non-2xx answer: EngineBusy for 429, else BackendError quoting the server's message."""
        if resp.status_code == 429:
            raise EngineBusy("the model backend is busy (429): retry shortly")
        if 300 <= resp.status_code < 400:
            raise BackendError(f"the model backend answered {resp.status_code} (a redirect: not followed)")
        body = b""
        with contextlib.suppress(httpx.HTTPError):
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) >= MAX_ERROR_BYTES:
                    break
        message = body[:MAX_ERROR_BYTES].decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            error = json.loads(message).get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
        message = " ".join(self._redact(str(message or "")).split())[:200]
        raise BackendError(f"the model backend answered HTTP {resp.status_code}" + (f": {message}" if message else ""))

    async def stream(
        self, prompt_ids: list[int], max_new_tokens: int, probe: bool = False
    ) -> AsyncGenerator[Piece, None]:
        """Generate greedily on the server after prompt_ids; yields text as it streams in. Leaving the loop early (a
        client that disconnected) closes the HTTP stream, which cancels the request on the server. A `probe` (the
        tutor's tool-choosing first reply, left on purpose once it is words) is not counted as cancelled."""
        if self._in_flight >= self.cfg.max_waiting:
            raise EngineBusy(f"{self._in_flight} requests in flight (serve.max_waiting)")
        self._in_flight += 1
        finished = failed = False
        try:
            model = await self._resolve_model()
            body = {
                "model": model,
                "prompt": list(prompt_ids),
                "max_tokens": max_new_tokens,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            headers = {**self._headers(), "Accept": "text/event-stream"}
            async with self._http().stream("POST", f"{self.base_url}/completions", json=body, headers=headers) as resp:
                if not resp.is_success:
                    await self._fail(resp)
                kind = resp.headers.get("content-type", "").split(";")[0].strip()
                if kind != "text/event-stream":
                    raise BackendError(f"the model backend answered {kind or 'no content type'}, not an event stream")
                async for piece in self._pieces(resp, max_new_tokens):
                    finished = piece.finish_reason is not None
                    yield piece
        except (BackendError, EngineBusy) as e:
            failed = True
            log.warning("backend %s: %s", self.base_url, e)
            raise
        except httpx.HTTPError as e:
            failed = True
            error = self._http_error(e)
            log.warning("backend %s: %s", self.base_url, error)
            raise error from None
        finally:
            self._in_flight -= 1
            self.failed += failed
            self.cancelled += not (finished or failed or probe)

    def _http_error(self, e: httpx.HTTPError) -> BackendError:
        """The BackendError of a transport failure: 503 when no connection could be made, else 502."""
        if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout):
            return BackendError(f"the model backend is unavailable ({self._redact(reason(e))})", 503)
        if isinstance(e, httpx.TimeoutException):
            return BackendError(f"the model backend did not answer for {self.cfg.backend_timeout_s:g}s")
        return BackendError(f"the model backend's answer broke off ({self._redact(reason(e))})")

    async def _pieces(self, resp: httpx.Response, max_new_tokens: int) -> AsyncGenerator[Piece, None]:
        """Pieces from the event stream of one completion; BackendError for a stream that breaks the protocol."""
        said: list[str] = []
        chunks = chars = 0
        finish: str | None = None
        used: int | None = None
        async for data in self._events(resp):
            if data == "[DONE]":
                if finish is None:
                    raise BackendError("malformed stream from the model backend: [DONE] before a finish_reason")
                tokens = (
                    used if used is not None else len(self.tokenizer.encode("".join(said), add_special_tokens=False))
                )
                yield Piece("", tokens, finish)
                return
            try:
                event = json.loads(data)
            except ValueError:
                raise BackendError("malformed stream from the model backend: an event that is not JSON") from None
            if not isinstance(event, dict):
                raise BackendError("malformed stream from the model backend: an event that is not an object")
            if event.get("error"):
                error = event["error"]
                message = error.get("message") if isinstance(error, dict) else error
                raise BackendError(f"the model backend failed: {' '.join(self._redact(str(message)).split())[:200]}")
            choices, usage = event.get("choices") or [], event.get("usage")
            if not isinstance(choices, list) or len(choices) > 1:
                raise BackendError("malformed stream from the model backend: choices is not a list of one")
            if usage is not None:
                tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
                if not isinstance(tokens, int) or isinstance(tokens, bool) or not 0 <= tokens <= max_new_tokens:
                    raise BackendError(
                        f"malformed stream from the model backend: usage.completion_tokens {tokens!r} "
                        f"(max_tokens {max_new_tokens})"
                    )
                used = tokens
            for choice in choices:
                text = choice.get("text") if isinstance(choice, dict) else None
                reason_ = choice.get("finish_reason") if isinstance(choice, dict) else None
                if not isinstance(text, str):
                    raise BackendError("malformed stream from the model backend: a choice without text")
                if finish is not None:
                    raise BackendError("malformed stream from the model backend: text after its finish_reason")
                chunks, chars = chunks + 1, chars + len(text)
                if chunks > max_new_tokens + 4 or chars > 256 * max_new_tokens + 1024:
                    raise BackendError(f"the model backend sent more than max_tokens {max_new_tokens} allows")
                if reason_ is not None and reason_ not in ("stop", "length"):
                    raise BackendError(f"the model backend ended the request: finish_reason {reason_!r}")
                finish = reason_
                if text:
                    said.append(text)
                    yield Piece(text, chunks)
        raise BackendError("malformed stream from the model backend: it ended before [DONE]")

    async def _events(self, resp: httpx.Response) -> AsyncIterator[str]:
        """The `data` of each server-sent event. The server may stay silent backend_timeout_s between two events
        (httpx's read timeout covers a silent socket; this clock, bytes that never complete an event)."""
        limit = self.cfg.backend_timeout_s
        buf, data, last = b"", [], time.monotonic()
        async for chunk in resp.aiter_bytes():
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                if not line:  # the end of an event
                    if data:
                        yield "\n".join(data)
                        data, last = [], time.monotonic()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                # other fields (event:, id:, retry:) and comments (":") carry nothing here
            if len(buf) > MAX_LINE_BYTES or sum(map(len, data)) > MAX_LINE_BYTES:
                raise BackendError("malformed stream from the model backend: an event over 1 MiB")
            if time.monotonic() - last > limit:
                raise BackendError(f"the model backend sent no complete event for {limit:g}s")
        if data:  # a last event without its blank line: the stream still ends before [DONE] unless this is it
            yield "\n".join(data)

    def close(self) -> None:
        """Close the connection pool (on the app's loop, at shutdown)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: the process is ending anyway
                asyncio.get_running_loop().create_task(client.aclose())


def reason(e: Exception) -> str:
    """A one-line reason for an httpx error (its text, or its class when it has none)."""
    text = " ".join(str(e).split())
    return text[:160] if text else type(e).__name__
