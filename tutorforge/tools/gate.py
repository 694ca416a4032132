"""The tool gate: whether a student's message asks for a tool, judged by the requests the tutor was trained on.

    gate = ToolGate.from_records(read_jsonl("artifacts/dataset/sft/train.jsonl"))
    gate.label("Set me a short two-question quiz on osmosis.")         # "make_quiz"
    gate.label("What does a plant cell's large vacuole contain?")      # "none"

Why: under the tool prompt the SFT tutor always calls a tool (every example it saw there was a call), so its call
says *which* tool, not *whether*. On the frozen benchmark (tutor-v1: 18 quiz/3D requests, 66 plain questions and
searches) executing every quiz/3D call the tutor made ran all 18 requests but also 14 of the 66 plain questions. Its
nearest neighbour among the training split's first user turns (MiniLM cosine; labelled with the tool the example
called, or "none") agreeing with the call keeps 15 of the 18 and 0 of the 66.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NO_TOOL = "none"


@dataclass
class ToolGate:
    texts: list[str]
    labels: list[str]
    """The tool each text's example called, or "none"."""
    embedder: str = "minilm"
    vectors: Any = None

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], embedder: str = "minilm") -> ToolGate:
        """First user turn -> the example's first tool call's name ("none" without one), over SFT records."""
        from tutorforge.retrieval.embedder import embed

        texts, labels = [], []
        for rec in records:
            user = next((m for m in rec.get("messages", []) if m.get("role") == "user"), None)
            if user is None or not str(user.get("content") or "").strip():
                continue
            calls = [c for m in rec["messages"] if m.get("role") == "assistant" for c in (m.get("tool_calls") or [])]
            texts.append(str(user["content"]))
            labels.append(str(calls[0].get("name")) if calls else NO_TOOL)
        return cls(texts, labels, embedder, embed(texts, embedder) if texts else None)

    def label(self, request: str) -> str:
        """The label of the training request nearest to `request` ("none" when the gate has no examples)."""
        from tutorforge.retrieval.embedder import embed

        if self.vectors is None:
            return NO_TOOL
        scores = self.vectors @ embed([request], self.embedder)[0]
        return self.labels[int(scores.argmax())]
