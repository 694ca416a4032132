"""POST /v1/chat/completions: OpenAI's chat format in, the tutor's reply out (whole, or streamed as server-sent
events), grounded in the textbook pages retrieval finds for the student's question.

    {"model": "tutorforge-tutor:v3", "messages": [{"role": "user", "content": "What is osmosis?"}],
     "stream": true, "max_tokens": 128, "mode": "socratic", "subject": "biology"}      # mode/subject: extra fields
    -> {"id": "chatcmpl-...", "object": "chat.completion", "model": "tutorforge-tutor:v3",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Osmosis is ...\\n\\nSources: biology.pdf
        p. 4 (printed 3)"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 41, "completion_tokens": 35, ...},
        "citations": [{"file": "biology.pdf", "page": 4, "page_label": "3", "heading": "1.3 Diffusion and Osmosis",
        "chunk_id": "...", "score": 0.71}]}

The system prompt is the mode's (what SFT trained with) unless the client sends its own system message. A request that
offers the tutor's tools (OpenAI `tools`) gets the tool system prompt instead, and a reply that is a valid call of an
offered tool is returned as `tool_calls` for the client to run (history with calls and `tool` results is rendered as
SFT saw it: tutorforge/training/sft_data.normalise_messages). Decoding is
greedy (the tutor's answers are reproducible); `temperature`/`top_p` are accepted and have no effect, `n` > 1 is
refused. Citations: the `serve.cite_candidates` chunks retrieved for the last user message (subject-filtered when
`subject` is given), re-ranked by similarity to question + answer once the answer is written, distinct pages, at
most `serve.max_citations`; a stream sends them with its last content chunk.

A diagram: the last user message may carry one image as an OpenAI image part, `{"type": "image_url", "image_url":
{"url": "data:image/png;base64,..."}}` (data URLs only: the server fetches nothing). The bundle's diagram encoder
reads it (tutorforge/serve/diagrams.py); the reply starts with a lead written from that reading (subject, title,
confidence, 3D model, asset and animation), then a blank line and the LM's explanation of the topic, asked as the
student's text (or "What does this diagram show?") with the reading appended; citations are retrieved for the text
plus the diagram's title. The response carries the reading as the extra `diagram` field (a stream: on its first
chunk, whose content is the lead). An image turn skips the tutor's own tool step (the 3D model is already chosen)
and is answered in words, whatever tools the client offers. Images of earlier messages are not read (their text
is). 400 for a second image in one message, a URL that is not base64 data, bytes that are not a whole picture, one
over serve.max_image_bytes or max_image_pixels, and for any image when the tutor has no diagram encoder. (The body
limit of this path has room for one image's base64; the messages' text is still held to serve.max_body_bytes.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from tutorforge.core.logs import get_logger
from tutorforge.retrieval.store import Hit, TextbookIndex
from tutorforge.serve.config import ServeConfig
from tutorforge.serve.diagrams import DEFAULT_QUESTION, NO_ENCODER, lead, note, read_diagram
from tutorforge.serve.engine import TutorEngine
from tutorforge.tools.gate import NO_TOOL, ToolGate
from tutorforge.tools.runner import ToolCallError, ToolOutcome, ToolRunner
from tutorforge.tools.specs import DEFAULT_CATALOGUE, parse_call, tool_specs, validate_call
from tutorforge.training.sft_data import normalise_messages
from tutorforge.vision.reader import DiagramReader, ImageInputError, data_url_bytes

TOOL_NAMES = tuple(tool_specs(DEFAULT_CATALOGUE))
log = get_logger("serve")
FED_BACK_TOOLS = ("make_quiz", "show_3d_model")
"""Tools whose result the tutor's next reply answers (as in training); a search's results only go to the client."""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text (content parts of type text joined; image parts are read by image_url)."""
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""

    def image_url(self, where: str) -> str | None:
        """The URL of the message's image part (OpenAI's {"type": "image_url", "image_url": {"url": ...}}), or None;
        ChatRefused for a malformed part or more than one image (`where` names the message in the error)."""
        if not isinstance(self.content, list):
            return None
        urls = []
        for part in self.content:
            if part.get("type") != "image_url":
                continue
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str):
                raise ChatRefused(f"{where}: an image_url part needs image_url.url (a data:image/...;base64 URL)")
            urls.append(url)
        if len(urls) > 1:
            raise ChatRefused(f"{where}: at most one image per message ({len(urls)} given)")
        return urls[0] if urls else None


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
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
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
    tools: set[str] = field(default_factory=set)
    """Tool names the client offered: a reply that is a call to one of them comes back as OpenAI `tool_calls`."""
    routing: list[dict[str, Any]] | None = None
    """The conversation under the tool prompt (training form), when the tutor may run its own tools first."""
    subject: str | None = None
    tool_results: list[ToolOutcome] = field(default_factory=list)
    """Tools the tutor ran for this turn (filled by run_tutor_tools)."""
    diagram: dict[str, Any] | None = None
    """The reading of the diagram the last user message carries (tutorforge/vision/reader.py), if it carries one."""


@dataclass
class Tutor:
    engine: TutorEngine
    index: TextbookIndex
    cfg: ServeConfig
    prompts: dict[str, str]
    """Mode -> system prompt (what SFT trained with)."""
    model_id: str
    on_usage: Callable[[int, int], None] | None = None
    """Called with (prompt tokens, completion tokens) after each reply (the /metrics token counters)."""
    runner: ToolRunner | None = None
    """Executes the tutor's own tool calls (serve.tutor_tools); None = the tutor never runs tools itself."""
    gate: ToolGate | None = None
    """Lets a call run only when the request reads like the training requests for that tool, and skips the tool step
    for one that reads like a plain question (None: the bundle has no training split to judge by, and the tutor's
    calls run as made)."""
    reader: DiagramReader | None = None
    """Reads a diagram sent with a question (serve.vision_encoder); None = images are refused."""

    def prepare(self, req: ChatRequest, trim_history: bool = False) -> Turn:
        """Check the request against the limits, retrieve, and build the prompt. A prompt that leaves no room for the
        answer in the model's context is refused, or with `trim_history` (a stored /chat conversation) loses its
        oldest turns until it fits."""
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
        images = [m.image_url(f"messages[{i}]") for i, m in enumerate(req.messages)]
        last = max((i for i, m in enumerate(req.messages) if m.role == "user"), default=None)
        text = req.messages[last].text() if last is not None else ""
        if last is None or not (text.strip() or images[last]):
            raise ChatRefused("messages: no user message with text to answer")
        offered = self.offered_tools(req)
        raw = [as_training_message(m) for m in req.messages]
        diagram = None
        if (url := images[last]) is not None:
            diagram = self.read_image(url, text, f"messages[{last}]")
            text = text.strip() or DEFAULT_QUESTION
            raw[last]["content"] = f"{text}\n{note(diagram)}"
            text = f"{text} {diagram['title']}"  # what citations are retrieved for
            offered = set()  # answered in words: the 3D model is already chosen
        msgs = normalise_messages(raw, self.engine.template)
        if not any(m["role"] == "system" for m in msgs):
            prompt = self.prompts["tools"] if offered else self.prompts[req.mode or self.cfg.mode]
            msgs.insert(0, {"role": "system", "content": prompt})
        question = text[: self.cfg.max_query_chars]
        hits = self.index.search(question, self.cfg.cite_candidates, req.subject)
        prompt_ids = self.engine.prompt_ids(msgs)
        room = self.engine.context_tokens - wanted
        first = next((i for i, m in enumerate(msgs) if m["role"] != "system"), 0)
        while len(prompt_ids) > room and trim_history and len(msgs) - first > 1:
            del msgs[first]  # the oldest message after the system prompt
            prompt_ids = self.engine.prompt_ids(msgs)
        if len(prompt_ids) > room:
            raise ChatRefused(
                f"messages: the prompt is {len(prompt_ids)} tokens; with max_tokens {wanted} it exceeds the model's "
                f"context of {self.engine.context_tokens}"
            )
        include_usage = bool((req.stream_options or {}).get("include_usage"))
        routing = None
        client_system = any(m.role in ("system", "developer") for m in req.messages)
        tutor_tools = self.runner and self.cfg.tutor_tools and not req.tools and req.tool_choice != "none"
        if tutor_tools and not client_system and diagram is None:
            routing = [{"role": "system", "content": self.prompts["tools"]}, *msgs[first:]]
        return Turn(prompt_ids, wanted, question, hits, include_usage, offered, routing, req.subject, diagram=diagram)

    def read_image(self, url: str, question: str, where: str) -> dict[str, Any]:
        """The reading of the image a message sends (blocking: prepare runs on a worker thread); ChatRefused for an
        image the tutor cannot or will not read."""
        if self.reader is None:
            raise ChatRefused(f"{where}: {NO_ENCODER}")
        try:
            data = data_url_bytes(url, self.cfg.max_image_bytes)
            reading = read_diagram(self.reader, data, self.cfg.max_image_pixels, question)
        except ImageInputError as e:
            raise ChatRefused(f"{where}: {e}") from None
        log.info(
            "diagrams: a chat image of %d bytes read as %s (%.2f)", len(data), reading["label"], reading["confidence"]
        )
        return reading

    def offered_tools(self, req: ChatRequest) -> set[str]:
        """The tutor's tools the client offers (OpenAI `tools`), unless tool_choice is "none"; others are refused."""
        if not req.tools or req.tool_choice == "none":
            return set()
        names = set()
        for t in req.tools:
            name = (t.get("function") or {}).get("name") if t.get("type") == "function" else None
            if name not in TOOL_NAMES:
                raise ChatRefused(f"tools: {name!r} is not a tool this tutor was trained on ({', '.join(TOOL_NAMES)})")
            names.add(name)
        return names

    def tool_calls(self, turn: Turn, text: str) -> list[dict[str, Any]] | None:
        """The reply as OpenAI tool_calls when it is a valid call of an offered tool, else None (a text reply)."""
        if not turn.tools:
            return None
        call = parse_call(text)
        if call is None or call["name"] not in turn.tools or validate_call(call, DEFAULT_CATALOGUE):
            return None
        args = json.dumps(call["arguments"], ensure_ascii=False, sort_keys=True)
        return [
            {
                "id": "call_" + uuid.uuid4().hex[:24],
                "type": "function",
                "function": {"name": call["name"], "arguments": args},
            }
        ]

    def cite(self, turn: Turn, answer: str) -> list[dict[str, Any]]:
        """The pages under the answer: the retrieved chunks re-ranked by similarity to question + answer (the page
        that holds what the reply says, not only what the question asked: 19 of the benchmark's 20 retrieval
        questions get the right first page this way, 17 by the question alone), distinct, at most max_citations."""
        return citations(self.index.rerank(turn.hits, f"{turn.question} {answer}"), self.cfg.max_citations)


async def run_tutor_tools(tutor: Tutor, turn: Turn) -> Turn:
    """The tutor's own tool step (serve.tutor_tools). With a gate, a request that reads like a plain question skips it
    (no generation); otherwise a first reply under the tool prompt, and a valid call of the tool the gate names is
    executed. make_quiz and show_3d_model results are fed back as in training and the turn's prompt becomes that
    conversation (the next reply answers the result); a search's results only go to the client, and the question is
    answered in the request's mode. A first reply in words is cut short and changes nothing."""
    if turn.routing is None or tutor.runner is None:
        return turn
    engine, routing, gate = tutor.engine, turn.routing, tutor.gate
    reads_like = None
    if gate is not None:  # whether: the gate (tools/gate.py), before any generation; which: the tutor's call
        reads_like = await run_in_threadpool(gate.label, turn.question)
        if reads_like == NO_TOOL:
            log.info("tool gate: the request reads like a question, no tool step")
            return turn
    route_ids = engine.prompt_ids(routing)
    if len(route_ids) + tutor.cfg.tool_route_tokens > engine.context_tokens:
        return turn  # a long conversation: no room to choose a tool, answer as usual
    said, tokens = [], 0
    # closed on leaving, not when collected: the probe is out of the engine before the answer starts
    async with contextlib.aclosing(engine.stream(route_ids, tutor.cfg.tool_route_tokens, probe=True)) as probe:
        async for piece in probe:
            said.append(piece.text)
            tokens = piece.tokens
            head = "".join(said).lstrip()
            if head and head[0] not in "{<":  # words, not a call ({json}, or <tool_call>{json} for plain templates)
                break
    if tutor.on_usage:
        tutor.on_usage(len(route_ids), tokens)
    call = parse_call("".join(said))
    if call is None:
        return turn
    if reads_like is not None and call.get("name") != reads_like:
        log.info("tool gate: %s not run (the request reads like %r)", call.get("name"), reads_like)
        return turn
    try:
        outcome = await run_in_threadpool(tutor.runner.run, call, turn.subject)
    except ToolCallError as e:
        log.info("tutor tool call refused: %s", e)
        return turn
    log.info("tutor ran %s(%s)", outcome.name, json.dumps(outcome.arguments, ensure_ascii=False)[:200])
    if outcome.name not in FED_BACK_TOOLS:  # a search: its results are for the client, the question is answered
        return dataclasses.replace(turn, tool_results=[outcome])
    fed = [
        *routing,
        {"role": "assistant", "content": "", "tool_calls": [{"name": outcome.name, "arguments": outcome.arguments}]},
        {"role": "tool", "content": json.dumps(outcome.for_model, ensure_ascii=False, sort_keys=True)},
    ]
    ids = engine.prompt_ids(normalise_messages(fed, engine.template))
    if len(ids) + turn.max_new_tokens > engine.context_tokens:  # the result does not fit: the client still gets it
        return dataclasses.replace(turn, tool_results=[outcome])
    return dataclasses.replace(turn, prompt_ids=ids, tool_results=[outcome])


def as_training_message(m: ChatMessage) -> dict[str, Any]:
    """An OpenAI message in the form SFT trained on: tool_calls as {name, arguments: object}, developer = system."""
    out: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
    if m.tool_calls:
        calls = []
        for c in m.tool_calls:
            fn = c.get("function") or {}
            args = fn.get("arguments")
            try:
                args = json.loads(args) if isinstance(args, str) else (args or {})
            except json.JSONDecodeError:
                raise ChatRefused(f"messages: tool call {fn.get('name')!r} has arguments that are not JSON") from None
            calls.append({"name": fn.get("name"), "arguments": args})
        out["tool_calls"] = calls
    return out


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


def fed_back(turn: Turn) -> bool:
    """Whether the tutor ran a tool whose result its reply answers (make_quiz, show_3d_model)."""
    return any(t.name in FED_BACK_TOOLS for t in turn.tool_results)


def words_only(turn: Turn, answer: str) -> str:
    """The reply, or "" when it answers a tool result with another call (one executed call per request)."""
    starts_as_call = answer.lstrip().startswith(("{", "<tool_call>"))  # cut short calls do not parse
    return "" if fed_back(turn) and (starts_as_call or parse_call(answer) is not None) else answer


def envelope(tutor: Tutor, cid: str, created: int, kind: str, choices: list[Any], **extra: Any) -> dict[str, Any]:
    """A chat.completion (kind "chat.completion") or chunk ("chat.completion.chunk") object around `choices`."""
    return {"id": cid, "object": kind, "created": created, "model": tutor.model_id, "choices": choices, **extra}


def tool_results(turn: Turn) -> dict[str, Any]:
    """The extra `tool_results` field of a reply for which the tutor ran tools (absent otherwise)."""
    return {"tool_results": [t.as_json() for t in turn.tool_results]} if turn.tool_results else {}


async def complete(tutor: Tutor, turn: Turn) -> dict[str, Any]:
    """The whole reply as one chat.completion object (after the tutor's own tool step, when it takes one)."""
    turn = await run_tutor_tools(tutor, turn)
    text, tokens, finish = [], 0, "stop"
    async for piece in tutor.engine.stream(turn.prompt_ids, turn.max_new_tokens):
        text.append(piece.text)
        tokens, finish = piece.tokens, piece.finish_reason or finish
    answer = "".join(text).strip()
    if tutor.on_usage:
        tutor.on_usage(len(turn.prompt_ids), tokens)
    cites: list[dict[str, Any]] = []
    if calls := tutor.tool_calls(turn, answer):
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": calls}
        finish = "tool_calls"
    else:
        answer = words_only(turn, answer)
        cites = await run_in_threadpool(tutor.cite, turn, answer)
        shown = "\n\n".join(p for p in (lead(turn.diagram), answer) if p) if turn.diagram else answer
        message = {"role": "assistant", "content": shown + sources_line(cites)}
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return envelope(
        tutor,
        completion_id(),
        int(time.time()),
        "chat.completion",
        [choice],
        usage=usage(len(turn.prompt_ids), tokens),
        citations=cites,
        **tool_results(turn),
        **diagram_field(turn),
    )


def diagram_field(turn: Turn) -> dict[str, Any]:
    """The extra `diagram` field of a reply to an image (absent otherwise)."""
    return {"diagram": turn.diagram} if turn.diagram else {}


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def stream_events(tutor: Tutor, turn: Turn) -> AsyncIterator[str]:
    """Server-sent events of chat.completion.chunk objects, then `data: [DONE]`. When the tutor runs a tool itself,
    a chunk with the extra `tool_results` field comes before the answer's text. A reply to a diagram starts with
    the lead as the first chunk's content, that chunk carrying the extra `diagram` field."""
    cid, created = completion_id(), int(time.time())

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return f"data: {json.dumps(envelope(tutor, cid, created, 'chat.completion.chunk', choices, **extra))}\n\n"

    if turn.diagram:
        yield chunk({"role": "assistant", "content": lead(turn.diagram)}, **diagram_field(turn))
    else:
        yield chunk({"role": "assistant", "content": ""})
    gap = "\n\n" if turn.diagram else ""  # between the lead and the explanation's first words
    turn = await run_tutor_tools(tutor, turn)
    if turn.tool_results:
        yield chunk({}, **tool_results(turn))
    # held back until the end: a reply that may be a call (tools offered), or one after a tool result (a small tutor
    # sometimes answers a result with another call, which is dropped, not shown as JSON)
    hold = bool(turn.tools) or fed_back(turn)
    tokens, finish, started, said = 0, "stop", False, []
    async for piece in tutor.engine.stream(turn.prompt_ids, turn.max_new_tokens):
        text = piece.text.lstrip() if not started else piece.text
        started = started or bool(text)
        if text:
            said.append(text)
            if not hold:
                yield chunk({"content": gap + text})
                gap = ""
        tokens, finish = piece.tokens, piece.finish_reason or finish
    answer = "".join(said)
    calls = tutor.tool_calls(turn, answer) if turn.tools else None
    if calls:
        yield chunk({"tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]})
        finish = "tool_calls"
    else:
        answer = words_only(turn, answer)
        if hold and answer:  # the words, held back until now
            yield chunk({"content": gap + answer})
        cites = await run_in_threadpool(tutor.cite, turn, answer.strip())
        yield chunk({"content": sources_line(cites)}, citations=cites)  # the pages, once the answer is known
    if tutor.on_usage:
        tutor.on_usage(len(turn.prompt_ids), tokens)
    yield chunk({}, finish)
    if turn.include_usage:
        yield chunk(None, usage=usage(len(turn.prompt_ids), tokens))
    yield "data: [DONE]\n\n"
