"""POST /v1/chat/completions: OpenAI's chat format in, the tutor's reply out (whole, or streamed as server-sent
events), grounded in the textbook pages retrieval finds for the student's question.

    {"model": "tutorforge-tutor:v3", "messages": [{"role": "user", "content": "What is osmosis?"}],
     "stream": true, "max_tokens": 128, "mode": "socratic", "subject": "biology"}      # mode/subject: extra fields
    -> {"id": "chatcmpl-...", "object": "chat.completion", "model": "tutorforge-tutor:v3",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Osmosis is ...\\n\\nSources: biology.pdf
        p. 4 (printed 3)"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 41, "completion_tokens": 35, ...},
        "citations": [{"file": "biology.pdf", "page": 4, "page_label": "3", "heading": "1.3 Diffusion and Osmosis",
        "chunk_id": "...", "score": 0.71}]}

The system prompt is the mode's (what SFT trained with) unless the client sends its own system message. Decoding is
greedy (the tutor's answers are reproducible); `temperature`/`top_p` are accepted and have no effect, `n` > 1 is
refused. Citations: the `serve.cite_candidates` chunks retrieved for the last user message (subject-filtered when
`subject` is given), re-ranked by similarity to question + answer once the answer is written, distinct pages, at
most `serve.max_citations`; a stream sends them with its last content chunk.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from tutorforge.retrieval.store import Hit, TextbookIndex
from tutorforge.serve.config import ServeConfig
from tutorforge.serve.engine import Engine


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (content parts of type text joined; images are not read yet)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The OpenAI chat-completions fields the tutor reads (others, e.g. `user` or `seed`, are ignored)."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    mode: Literal["direct", "socratic"] | None = None
    subject: str | None = None


class SessionChat(BaseModel):
    """POST /chat: one student message in a stored conversation (a new one when session_id is absent)."""

    model_config = ConfigDict(extra="forbid")
    session_id: str | None = None
    message: str = Field(min_length=1)
    mode: Literal["direct", "socratic"] | None = None
    subject: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False


class ChatRefused(ValueError):
    """A well-formed request the tutor will not run (400 with this message)."""


@dataclass
class Turn:
    """One prepared reply: the prompt, its limits and the pages it cites."""

    prompt_ids: list[int]
    max_new_tokens: int
    question: str
    hits: list[Hit]
    """The chunks retrieved for the question: the candidates for citation."""
    include_usage: bool


@dataclass
class Tutor:
    engine: Engine
    index: TextbookIndex
    cfg: ServeConfig
    prompts: dict[str, str]
    """Mode -> system prompt (what SFT trained with)."""
    model_id: str
    on_usage: Callable[[int, int], None] | None = None
    """Called with (prompt tokens, completion tokens) after each reply (the /metrics token counters)."""

    def prepare(self, req: ChatRequest) -> Turn:
        """Check the request against the limits, retrieve, and build the prompt."""
        if req.model not in (None, "", self.model_id):
            raise ChatRefused(f"model: {req.model!r} is not served here (GET /v1/models lists {self.model_id!r})")
        if req.n != 1:
            raise ChatRefused("n: only 1 choice per request")
        if len(req.messages) > self.cfg.max_messages:
            raise ChatRefused(f"messages: {len(req.messages)} > {self.cfg.max_messages} (serve.max_messages)")
        wanted = req.max_completion_tokens or req.max_tokens or self.cfg.default_max_tokens
        if wanted > self.cfg.max_tokens:
            raise ChatRefused(f"max_tokens: {wanted} > {self.cfg.max_tokens} (serve.max_tokens)")
        if req.subject is not None and req.subject not in self.index.subjects:
            raise ChatRefused(f"subject: {req.subject!r} is not one of {self.index.subjects}")
        users = [m.text() for m in req.messages if m.role == "user"]
        if not users or not users[-1].strip():
            raise ChatRefused("messages: no user message with text to answer")
        msgs = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in req.messages]
        if not any(m["role"] == "system" for m in msgs):
            msgs.insert(0, {"role": "system", "content": self.prompts[req.mode or self.cfg.mode]})
        question = users[-1][: self.cfg.max_query_chars]
        hits = self.index.search(question, self.cfg.cite_candidates, req.subject)
        prompt_ids = self.engine.prompt_ids(msgs)
        include_usage = bool((req.stream_options or {}).get("include_usage"))
        return Turn(prompt_ids, wanted, question, hits, include_usage)

    def cite(self, turn: Turn, answer: str) -> list[dict[str, Any]]:
        """The pages under the answer: the retrieved chunks re-ranked by similarity to question + answer (the page
        that holds what the reply says, not only what the question asked: 19 of the benchmark's 20 retrieval
        questions get the right first page this way, 17 by the question alone), distinct, at most max_citations."""
        return citations(self.index.rerank(turn.hits, f"{turn.question} {answer}"), self.cfg.max_citations)


def citations(hits: list[Hit], limit: int) -> list[dict[str, Any]]:
    """Distinct (file, page) of the hits, best first."""
    out, seen = [], set()
    for h in hits:
        key = (h.chunk["file"], h.chunk["page"])
        if key in seen:
            continue
        seen.add(key)
        heading = h.chunk["heading_path"][-1] if h.chunk["heading_path"] else ""
        out.append(
            {
                "file": h.chunk["file"],
                "page": h.chunk["page"],
                "page_label": h.chunk["page_label"],
                "heading": heading,
                "chunk_id": h.chunk["chunk_id"],
                "score": round(h.score, 4),
            }
        )
    return out[:limit]


def sources_line(cites: list[dict[str, Any]]) -> str:
    """The citation a reader sees under the answer: "Sources: biology.pdf p. 4 (printed 3)"."""
    if not cites:
        return ""
    parts = [
        f"{c['file']} p. {c['page']}" + (f" (printed {c['page_label']})" if c["page_label"] != str(c["page"]) else "")
        for c in cites
    ]
    return "\n\nSources: " + "; ".join(parts)


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


async def complete(tutor: Tutor, turn: Turn) -> dict[str, Any]:
    """The whole reply as one chat.completion object."""
    text, tokens, finish = [], 0, "stop"
    async for piece in tutor.engine.stream(turn.prompt_ids, turn.max_new_tokens):
        text.append(piece.text)
        tokens, finish = piece.tokens, piece.finish_reason or finish
    answer = "".join(text).strip()
    cites = await run_in_threadpool(tutor.cite, turn, answer)
    content = answer + sources_line(cites)
    if tutor.on_usage:
        tutor.on_usage(len(turn.prompt_ids), tokens)
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": tutor.model_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": usage(len(turn.prompt_ids), tokens),
        "citations": cites,
    }


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def stream_events(tutor: Tutor, turn: Turn) -> AsyncIterator[str]:
    """Server-sent events of chat.completion.chunk objects, then `data: [DONE]`."""
    cid, created = completion_id(), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": tutor.model_id}
        body |= {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    tokens, finish, started, said = 0, "stop", False, []
    async for piece in tutor.engine.stream(turn.prompt_ids, turn.max_new_tokens):
        text = piece.text.lstrip() if not started else piece.text
        started = started or bool(text)
        if text:
            said.append(text)
            yield chunk({"content": text})
        tokens, finish = piece.tokens, piece.finish_reason or finish
    cites = await run_in_threadpool(tutor.cite, turn, "".join(said).strip())
    if tutor.on_usage:
        tutor.on_usage(len(turn.prompt_ids), tokens)
    yield chunk({"content": sources_line(cites)}, citations=cites)  # the pages, once the answer is known
    yield chunk({}, finish)
    if turn.include_usage:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": tutor.model_id}
        yield f"data: {json.dumps(body | {'choices': [], 'usage': usage(len(turn.prompt_ids), tokens)})}\n\n"
    yield "data: [DONE]\n\n"
