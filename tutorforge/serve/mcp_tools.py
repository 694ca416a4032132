"""`tutorforge mcp`: the tutor's tools for MCP clients (Claude Desktop, IDEs, agents), over stdio with the official
MCP Python SDK. Four tools, on the service `tutorforge serve` runs (the same bundle, index, quiz items and model):

- search_textbook(query, subject?)          the textbook passages that match, with file, page and section
- make_quiz(topic, n_questions, subject?)   held-out questions (with answers) of the section the topic belongs to
- show_3d_model(model_id)                   a 3D model of the catalogue: its asset and animations, for an app to show
- ask_tutor(question, mode?, subject?, max_tokens?)   the tutor's answer, grounded in the textbook, with citations

    server = create_server(load_service("params.yaml", {"serve.model": "artifacts"}))
    server.run()                                       # stdio: JSON-RPC on stdin/stdout until the client hangs up

A call and its result (structuredContent is the runner's `for_client`, the text a short rendering of it):

    {"method": "tools/call", "params": {"name": "show_3d_model", "arguments": {"model_id": "human_heart"}}}
    -> {"content": [{"type": "text", "text": "Showing the human heart (biology): models/human_heart.glb;
                     animations: heartbeat, blood_flow"}],
        "structuredContent": {"model_id": "human_heart", "title": "the human heart", "subject": "biology",
                              "asset": "models/human_heart.glb", "animations": ["heartbeat", "blood_flow"]},
        "isError": false}

A call the tools refuse (an argument outside the input schema, a subject the index does not have) is a tool error
result with one line, never a crashed server:

    {"name": "make_quiz", "arguments": {"topic": "cells", "n_questions": 0}}
    -> {"content": [{"type": "text", "text": "Error executing tool make_quiz: invalid arguments:
        n_questions: Input should be greater than or equal to 1"}], "isError": true}

stdout is the protocol channel: everything else goes to stderr (quiet_stdout while loading; while serving, the SDK's
stdio transport points fd 1 at stderr itself).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from tutorforge.core.logs import get_logger
from tutorforge.serve.chat import ChatMessage, ChatRefused, ChatRequest, complete
from tutorforge.serve.engine import EngineBusy
from tutorforge.serve.service import Service
from tutorforge.tools.runner import ToolCallError, ToolRunner
from tutorforge.tools.specs import DEFAULT_CATALOGUE, tool_specs

log = get_logger("serve.mcp")

_PARAMS = {name: spec["parameters"]["properties"] for name, spec in tool_specs(DEFAULT_CATALOGUE).items()}
_QUERY, _TOPIC, _N = (
    _PARAMS["search_textbook"]["query"],
    _PARAMS["make_quiz"]["topic"],
    _PARAMS["make_quiz"]["n_questions"],
)
# The limits the tutor's tool specs set, so a client's schema and the runner's validation agree.
Query = Annotated[
    str,
    Field(min_length=_QUERY["minLength"], max_length=_QUERY["maxLength"], description="what to look up, in words"),
]
Topic = Annotated[
    str,
    Field(min_length=_TOPIC["minLength"], max_length=_TOPIC["maxLength"], description="a topic of the textbook"),
]
NQuestions = Annotated[int, Field(ge=_N["minimum"], le=_N["maximum"], description="how many questions, at most")]
if TYPE_CHECKING:
    ModelId = str
else:  # an enum in the input schema, from the catalogue the tutor was trained with
    ModelId = Annotated[Literal[tuple(sorted(DEFAULT_CATALOGUE))], Field(description="a 3D model of the catalogue")]
Subject = Annotated[
    str | None, Field(description="a subject of the textbooks (the tool's description lists them); omit for all")
]
Mode = Annotated[
    Literal["direct", "socratic"] | None,
    Field(description="direct: an answer; socratic: guiding questions, not the answer; omit for the server's default"),
]
Question = Annotated[str, Field(min_length=1, description="the student's question, in words")]
MaxTokens = Annotated[int | None, Field(ge=1, description="the longest answer, in tokens; omit for the default")]
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


class TutorMCPServer(MCPServer[Any]):
    """MCPServer whose argument errors are one line ("… make_quiz: invalid arguments: n_questions: Input should be
    …"), not pydantic's multi-line report: the client's model reads it to correct the call."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if not isinstance(e.__cause__, ValidationError):
                raise
            problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.__cause__.errors())
            raise ToolError(f"Error executing tool {name}: invalid arguments: {problems}") from e.__cause__


def create_server(service: Service) -> MCPServer[Any]:
    """The MCP server of `service`'s tools; its engine is the caller's to close once the server has stopped."""
    cfg, index, tutor = service.cfg, service.index, service.tutor
    runner = tutor.runner
    if runner is None:
        raise ValueError("the service has no tool runner")
    subjects = list(index.subjects)
    on_subjects = f" Subjects: {', '.join(subjects)}."

    def check_subject(subject: str | None) -> None:
        if subject is not None and subject not in subjects:
            raise ToolError(f"subject: {subject!r} is not one of {subjects}")

    server = TutorMCPServer(
        "tutorforge",
        title="TutorForge tutor",
        version=_version(),
        instructions=(
            f"A school tutor on the textbooks of {', '.join(subjects)} ({service.bundle.model_id}). "
            "search_textbook finds pages, make_quiz draws held-out questions with answers, show_3d_model picks a "
            "3D model for the app, ask_tutor has the tutor answer (with the pages it cites)."
        ),
    )

    def search_textbook(query: Query, subject: Subject = None) -> CallToolResult:
        """Search the student's textbook: the best matching passages, each with its file, page, section heading and
        the start of its text."""
        check_subject(subject)
        out = run_tool(runner, "search_textbook", {"query": query}, subject)
        lines = [
            f"{i}. {r['heading'] or '(no heading)'}, {page_ref(r['file'], r['pages'][0], r['page_label'])}: "
            f"{r['snippet']}"
            for i, r in enumerate(out["results"], 1)
        ]
        return tool_result("\n".join(lines) or f"nothing found for {query!r}", out)

    def make_quiz(topic: Topic, n_questions: NQuestions, subject: Subject = None) -> CallToolResult:
        """A short quiz on a topic of the textbook: held-out questions with their answers, from the section the topic
        is found in (then the next best sections), never more than n_questions."""
        check_subject(subject)
        out = run_tool(runner, "make_quiz", {"topic": topic, "n_questions": n_questions}, subject)
        lines = [f"{i}. {q['question']}\n   Answer: {q['answer']}" for i, q in enumerate(out["questions"], 1)]
        head = f"Quiz on {topic!r}: {len(lines)} of {n_questions} questions asked"
        return tool_result("\n".join([head, *lines]) if lines else f"no quiz questions found for {topic!r}", out)

    def show_3d_model(model_id: ModelId) -> CallToolResult:
        """Show the student an interactive 3D model: the asset (a GLB path under the app's assets) and its
        animations."""
        out = run_tool(runner, "show_3d_model", {"model_id": model_id}, None)
        text = f"Showing {out['title']} ({out['subject']}): {out['asset']}; animations: {', '.join(out['animations'])}"
        return tool_result(text, out)

    async def ask_tutor(
        question: Question, mode: Mode = None, subject: Subject = None, max_tokens: MaxTokens = None
    ) -> CallToolResult:
        """Ask the tutor (a small language model trained on the textbook) a question: its answer, grounded in the
        textbook passages retrieved for the question, and the pages it cites. Socratic mode guides with questions
        instead of giving the answer."""
        req = ChatRequest(
            messages=[ChatMessage(role="user", content=question)], mode=mode, subject=subject, max_tokens=max_tokens
        )
        try:  # retrieval embeds on the CPU: off the event loop, which also carries the engine's streams
            turn = await anyio.to_thread.run_sync(tutor.prepare, req)
            reply = await complete(tutor, turn)
        except (ChatRefused, EngineBusy) as e:
            raise ToolError(str(e)) from None
        choice = reply["choices"][0]
        out: dict[str, Any] = {
            "answer": choice["message"].get("content") or "",
            "mode": mode or cfg.mode,
            "citations": reply.get("citations", []),
            "finish_reason": choice["finish_reason"],
            "usage": reply.get("usage", {}),
        }
        if (tool_results := reply.get("tool_results")) is not None:  # tools the tutor ran itself on the way
            out["tool_results"] = tool_results
        return tool_result(out["answer"], out)

    # subjects depend on the index: named in the descriptions of the tools that take one
    server.add_tool(search_textbook, description=doc(search_textbook) + on_subjects, annotations=READ_ONLY)
    server.add_tool(make_quiz, description=doc(make_quiz) + on_subjects, annotations=READ_ONLY)
    server.add_tool(show_3d_model, description=doc(show_3d_model), annotations=READ_ONLY)
    server.add_tool(ask_tutor, description=doc(ask_tutor) + on_subjects, annotations=READ_ONLY)
    tools = (search_textbook, make_quiz, show_3d_model, ask_tutor)
    log.info(
        "mcp: %s, %d index chunks, %d quiz sections; tools %s",
        service.bundle.model_id,
        len(index.chunks),
        runner.quiz_sections,
        ", ".join(t.__name__ for t in tools),
    )
    return server


def run_tool(runner: ToolRunner, name: str, arguments: dict[str, Any], subject: str | None) -> dict[str, Any]:
    """The runner's result for the client; its refusals as tool errors (one line)."""
    try:
        return runner.run({"name": name, "arguments": arguments}, subject=subject).for_client
    except ToolCallError as e:
        raise ToolError(str(e)) from None


def doc(fn: Any) -> str:
    """The function's docstring as one paragraph (the SDK would send it with its source indentation)."""
    return " ".join((fn.__doc__ or "").split())


def tool_result(text: str, structured: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def page_ref(file: str, page: int, label: str) -> str:
    """A page as the tutor cites it: "biology.pdf p. 4 (printed 3)" (the printed number where it differs)."""
    return f"{file} p. {page}" + (f" (printed {label})" if label and label != str(page) else "")


def _version() -> str:
    try:
        return version("tutorforge")
    except PackageNotFoundError:
        return "0"


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Inside, stdout (sys.stdout and fd 1) writes to stderr: what loading prints (a library's print(), a progress
    bar, C code) must not reach the MCP client, which reads stdout as JSON-RPC."""
    sys.stdout.flush()
    wire = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()  # what was buffered for fd 1 inside goes to stderr, not onto the wire
        os.dup2(wire, 1)
        os.close(wire)
