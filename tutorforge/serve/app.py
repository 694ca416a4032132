"""The HTTP app of `tutorforge serve`: bearer auth, body-size limit, health, models, chat, retrieval context, metrics.

    app = create_app(cfg, bundle, index, token="s3cret", tutor=tutor)   # FastAPI; tutorforge/cli/serve.py runs it
    GET /health                      {"status": "ok", "model": "tutorforge-tutor:v3", "index_chunks": 121}  (no token)
    GET /v1/models                   {"object": "list", "data": [{"id": "tutorforge-tutor:v3", "object": "model", ...}]}
    GET /context?q=...&k=3&subject=  (or POST /context {"q", "k", "subject"})
                                     {"query": "...", "chunks": [{"rank": 1, "score": 0.71, "file": "biology.pdf",
                                      "page": 4, "page_label": "3", "heading_path": [...], "text": "...", ...}]}
    POST /v1/chat/completions        OpenAI chat format, whole or streamed (server-sent events): tutorforge/serve/chat.py
                                     (a user message's image_url part, a base64 data URL: a diagram, read and explained)
    POST /upload_image               multipart file=@heart.png [question=...] -> {"diagram": {"label", "title",
                                     "subject", "confidence", "model": {"model_id", "asset", "animations",
                                     "animation"}, ...}}: tutorforge/serve/diagrams.py
    POST /v1/completions             OpenAI completions (a prompt or token ids; what serve.backend openai calls on
                                     another server): tutorforge/serve/completions.py
    POST /v1/audio/transcriptions    multipart file=@question.wav -> {"text": "What does the cell membrane do?"}
                                     (OpenAI's speech-to-text, Whisper tiny.en on CPU): tutorforge/serve/speech.py
    POST /chat, GET /chat/{id}       a stored conversation (SQLite, continues across restarts): tutorforge/serve/sessions.py
    GET /metrics                     Prometheus text: requests by path and status, latency histogram, tokens
    GET /, GET /static/{name}        the tutor's web page and its assets (no token): tutorforge/serve/page.py
    GET /v1/subjects                 {"subjects": ["biology", ...]}   (the page's subject selector)
    GET /v1/sources/{chunk_id}       the index chunk a citation names: file, page, heading_path, text, ...

Errors use the OpenAI shape {"error": {"message", "type", "code"}} so OpenAI clients show them: 401 without the
right token (compared in constant time; the token is never logged or echoed), 413 for a body over
`serve.max_body_bytes` (`serve.max_audio_bytes` for audio uploads; /v1/chat/completions and /upload_image add room for
one image of `serve.max_image_bytes`; counted as it arrives, whatever Content-Length claims), 422 for bad parameters.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutorforge.retrieval.store import TextbookIndex
from tutorforge.serve.bundle import Bundle
from tutorforge.serve.chat import ChatRefused, ChatRequest, SessionChat, Turn, Tutor, complete, stream_events
from tutorforge.serve.completions import add_completion_routes, started_stream
from tutorforge.serve.config import ServeConfig
from tutorforge.serve.diagrams import add_diagram_routes
from tutorforge.serve.engine import EngineBusy
from tutorforge.serve.page import add_web_routes
from tutorforge.serve.remote_engine import BackendError
from tutorforge.serve.sessions import SessionStore, UnknownSession
from tutorforge.serve.speech import add_speech_routes


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes gets 413 before the app reads it as JSON (a lying or absent
    Content-Length is caught while the body streams in). `path_limits` gives some paths their own limit (audio)."""

    def __init__(self, app: ASGIApp, limit: int, path_limits: dict[str, int] | None = None) -> None:
        self.app, self.limit, self.path_limits = app, limit, path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(send, limit)
            return
        chunks, seen, more = [], 0, True
        while more:  # read the whole body first (it is at most `limit` bytes), then hand it on in one piece
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            seen += len(message.get("body", b""))
            if seen > limit:
                await self._reject(send, limit)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: disconnect notices, as the server sends them

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, limit: int) -> None:
        body = JSONResponse(error_body(f"request body over {limit} bytes", "invalid_request_error", "too_large"), 413)
        await body({"type": "http"}, _no_body, send)


class ContextRequest(BaseModel):
    """POST /context body (limits from params [serve], checked in the handler)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    q: str
    k: int | None = None
    subject: str | None = None


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def stored_stream(events: AsyncIterator[str], store: Any) -> AsyncIterator[str]:
    """Pass a chat stream through; once it is complete, store the turn (a stream cut short stores nothing)."""
    text, cites = [], []
    async for event in events:
        if event.startswith("data: {"):
            chunk = json.loads(event[6:])
            for choice in chunk.get("choices") or []:
                text.append(choice["delta"].get("content") or "")
            cites = chunk.get("citations", cites)
        if event == "data: [DONE]\n\n":
            await run_in_threadpool(store, "".join(text), cites)
        yield event


def create_app(cfg: ServeConfig, bundle: Bundle, index: TextbookIndex, token: str, tutor: Tutor) -> FastAPI:
    """The app serving `bundle` with `index`; all but /health and the web page need `Authorization: Bearer <token>`."""
    if not token:
        raise ValueError("an API token is required")
    sessions = SessionStore(cfg.sessions_db)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        tutor.engine.close()  # the batching thread stops with the server
        sessions.close()

    app = FastAPI(
        title="TutorForge tutor", version=bundle.version or "local", docs_url=None, redoc_url=None, lifespan=lifespan
    )
    started = int(time.time())
    metrics = CollectorRegistry()
    requests = Counter("tutorforge_requests", "HTTP requests", ["path", "status"], registry=metrics)
    latency = Histogram("tutorforge_request_seconds", "HTTP request latency", ["path"], registry=metrics)
    tokens = Counter("tutorforge_tokens", "Tokens processed by chat completions", ["kind"], registry=metrics)

    def count_tokens(prompt: int, completion: int) -> None:
        tokens.labels("prompt").inc(prompt)
        tokens.labels("completion").inc(completion)

    tutor.on_usage = count_tokens
    in_flight = Gauge("tutorforge_chat_in_flight", "Chat requests generating or queued", registry=metrics)
    in_flight.set_function(lambda: tutor.engine.in_flight)
    cancelled = Gauge("tutorforge_chat_cancelled", "Chat requests whose client left mid-answer", registry=metrics)
    cancelled.set_function(lambda: tutor.engine.cancelled)
    reused = Gauge("tutorforge_prompt_tokens_reused", "Prompt tokens taken from a kept KV cache", registry=metrics)
    reused.set_function(lambda: getattr(tutor.engine, "reused_tokens", 0))  # in-process engine only

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Any:
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "other")  # the route template, never the raw URL (bounded label values)
        requests.labels(path, str(response.status_code)).inc()
        latency.labels(path).observe(time.perf_counter() - t0)
        return response

    def authorized(request: Request) -> None:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error"}.get(
            exc.status_code, "invalid_request_error"
        )
        return JSONResponse(error_body(str(exc.detail), kind), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(error_body(f"{where}: {first.get('msg', 'invalid request')}", "invalid_request_error"), 422)

    @app.exception_handler(BackendError)
    async def backend_failed(request: Request, exc: BackendError) -> JSONResponse:  # serve.backend openai: 502/503
        return JSONResponse(error_body(str(exc), "server_error", exc.code), exc.status)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": bundle.model_id,
            "version": bundle.version,
            "index_chunks": len(index.chunks),
            "in_flight": tutor.engine.in_flight,
        }

    @app.get("/v1/models", dependencies=[Depends(authorized)])
    def models() -> dict[str, Any]:
        card = {"id": bundle.model_id, "object": "model", "created": started, "owned_by": "tutorforge"}
        return {"object": "list", "data": [card]}

    @app.get("/context", dependencies=[Depends(authorized)])
    def context(
        q: str = Query(min_length=1, max_length=cfg.max_query_chars),
        k: int = Query(cfg.context_k, ge=1, le=cfg.max_context_k),
        subject: str | None = None,
    ) -> dict[str, Any]:
        return retrieve(q, k, subject)

    @app.post("/context", dependencies=[Depends(authorized)])
    def context_json(body: ContextRequest) -> dict[str, Any]:  # the same, for queries too long for a URL
        if not 1 <= len(body.q) <= cfg.max_query_chars:
            raise HTTPException(422, f"body.q: length must be 1..{cfg.max_query_chars}")
        k = cfg.context_k if body.k is None else body.k
        if not 1 <= k <= cfg.max_context_k:
            raise HTTPException(422, f"body.k: must be 1..{cfg.max_context_k}")
        return retrieve(body.q, k, body.subject)

    def retrieve(q: str, k: int, subject: str | None) -> dict[str, Any]:
        if subject is not None and subject not in index.subjects:
            raise HTTPException(422, f"subject: {subject!r} is not one of {index.subjects}")
        hits = index.search(q, k, subject)
        keep = (
            "chunk_id",
            "section_id",
            "file",
            "page",
            "page_label",
            "subject",
            "heading_path",
            "start",
            "end",
            "text",
        )
        return {
            "query": q,
            "chunks": [
                {"rank": r, "score": round(h.score, 4)} | {f: h.chunk[f] for f in keep} for r, h in enumerate(hits, 1)
            ],
        }

    async def admit(req: ChatRequest, trim_history: bool = False) -> Turn:
        """The prepared turn, or 400 for a request the tutor will not run and 429 when too many are in flight."""
        try:  # retrieval embeds on the CPU: off the event loop
            turn = await run_in_threadpool(tutor.prepare, req, trim_history)
        except ChatRefused as e:
            raise HTTPException(400, str(e)) from None
        if tutor.engine.in_flight >= cfg.max_waiting:
            raise HTTPException(429, "the tutor is busy: retry shortly", headers={"Retry-After": "1"})
        return turn

    async def answer(turn: Turn) -> dict[str, Any]:
        try:
            return await complete(tutor, turn)
        except EngineBusy as e:  # filled up between admit and the start of generation
            raise HTTPException(429, str(e), headers={"Retry-After": "1"}) from None

    def event_stream(events: AsyncIterator[str], **headers: str) -> StreamingResponse:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    @app.post("/v1/chat/completions", dependencies=[Depends(authorized)])
    async def chat(req: ChatRequest) -> Any:
        if (size := sum(len(m.text()) for m in req.messages)) > cfg.max_body_bytes:  # this path's body limit has
            raise HTTPException(  # room for an image's base64 data (diagrams.py), not for that much more text
                400, f"messages: {size} characters of text, more than serve.max_body_bytes ({cfg.max_body_bytes})"
            )
        turn = await admit(req)
        return event_stream(await started_stream(stream_events(tutor, turn), 2)) if req.stream else await answer(turn)

    @app.post("/chat", dependencies=[Depends(authorized)])
    async def session_chat(body: SessionChat) -> Any:
        info: dict[str, Any] = {"mode": body.mode, "subject": body.subject}
        past: list[dict[str, Any]] = []
        if body.session_id is not None:
            if not sessions.valid_id(body.session_id):
                raise HTTPException(422, "body.session_id: not a session id")
            try:
                info, past = sessions.info(body.session_id), sessions.history(body.session_id)
            except UnknownSession:
                raise HTTPException(404, f"no session {body.session_id}") from None
        keep = past[-(cfg.max_messages - 1) :] if cfg.max_messages > 1 else []  # the newest turns that fit
        req = ChatRequest.model_validate(
            {
                "messages": [{"role": m["role"], "content": m["content"]} for m in keep]
                + [{"role": "user", "content": body.message}],
                "max_tokens": body.max_tokens,
                "mode": body.mode or info.get("mode"),
                "subject": body.subject or info.get("subject"),
                "stream": body.stream,
            }
        )
        turn = await admit(req, trim_history=True)  # old turns give way to the new one
        sid = body.session_id or sessions.create(body.mode, body.subject)  # a refused first message leaves no session

        def store(reply: str, cites: list[dict[str, Any]]) -> None:
            user = {"role": "user", "content": body.message}
            sessions.append(sid, [user, {"role": "assistant", "content": reply, "citations": cites}])

        if body.stream:
            events = await started_stream(stored_stream(stream_events(tutor, turn), store), 2)  # the engine started
            return event_stream(events, **{"X-Session-Id": sid})
        result = await answer(turn)
        choice = result["choices"][0]
        await run_in_threadpool(store, choice["message"]["content"], result["citations"])
        return {
            "session_id": sid,
            "reply": choice["message"]["content"],
            "finish_reason": choice["finish_reason"],
            "citations": result["citations"],
            "tool_results": result.get("tool_results", []),
            "usage": result["usage"],
        }

    @app.get("/chat/{session_id}", dependencies=[Depends(authorized)])
    def session_history(session_id: str) -> dict[str, Any]:
        if not sessions.valid_id(session_id):
            raise HTTPException(422, "session_id: not a session id")
        try:
            return sessions.info(session_id) | {"messages": sessions.history(session_id)}
        except UnknownSession:
            raise HTTPException(404, f"no session {session_id}") from None

    @app.get("/metrics", dependencies=[Depends(authorized)])
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics).decode(), media_type=CONTENT_TYPE_LATEST)

    add_completion_routes(app, tutor.engine, cfg, authorized, bundle.model_id, count_tokens)  # POST /v1/completions
    add_web_routes(app, index, authorized)  # GET / (the page), /static/{name}, /v1/subjects, /v1/sources/{chunk_id}
    path_limits = add_speech_routes(app, cfg, authorized)  # POST /v1/audio/transcriptions, its own body limit
    path_limits |= add_diagram_routes(app, cfg, authorized, tutor.reader)  # POST /upload_image; room for chat images
    app.add_middleware(BodyLimit, limit=cfg.max_body_bytes, path_limits=path_limits)  # type: ignore[arg-type]
    return app
