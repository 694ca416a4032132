"""The tutor's tools, executed for real: `search_textbook` searches the textbook index, `make_quiz` draws held-out
questions of the section the topic belongs to, `show_3d_model` returns the catalogue entry with its asset and
animations.

    runner = ToolRunner(index, quiz_items=read_jsonl("artifacts/dataset/sft/test.jsonl"), assets=cfg.models3d)
    out = runner.run({"name": "show_3d_model", "arguments": {"model_id": "human_heart"}})
    out.for_model   # {"model_id": "human_heart", "status": "displayed", "title": "the human heart"}  (what SFT saw)
    out.for_client  # {"model_id": "human_heart", "title": "the human heart", "subject": "biology",
                    #  "asset": "assets/models/human_heart.glb", "animations": ["beat", "blood_flow"]}

Each call has two results: `for_model` is fed back to the tutor in the shape its training examples had
(tutorforge/synth/dialogues.py), so the reply it writes next is in-distribution; `for_client` is what an app shows (the
3D panel's asset and animation names, the quiz with its answers). Quiz questions are the dataset's test split, which
no training step saw (question = the user turn, answer = the tutor's reply), for kinds that have one short answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from tutorforge.core.logs import get_logger
from tutorforge.retrieval.store import Hit, TextbookIndex
from tutorforge.tools.specs import DEFAULT_CATALOGUE, validate_call

QUIZ_KINDS = ("qa", "cloze", "definition", "why", "mc", "worked")
"""Test-split kinds usable as quiz questions: one user question, one answer (not dialogues or tool conversations)."""
log = get_logger("tools")


class ToolCallError(ValueError):
    """A call the tutor cannot run (unknown tool, bad arguments): the message says why, in one line."""


@dataclass(frozen=True)
class ToolOutcome:
    name: str
    arguments: dict[str, Any]
    for_model: dict[str, Any]
    """The result as the tutor reads it (the shape of the tool results it was trained on)."""
    for_client: dict[str, Any]
    """The result as an app shows it (everything the model's copy leaves out, e.g. asset paths)."""

    def as_json(self) -> dict[str, Any]:
        """The outcome in API responses: {"name", "arguments", "result"}."""
        return {"name": self.name, "arguments": self.arguments, "result": self.for_client}


@dataclass
class ToolRunner:
    index: TextbookIndex
    quiz_items: list[dict[str, Any]]
    """Held-out SFT records (the dataset's test split): the quiz questions."""
    assets: dict[str, dict[str, Any]]
    """3D model id -> {"asset": path, "animations": [names]} (params serve.models3d)."""
    catalogue: dict[str, dict[str, Any]] | None = None
    """3D model id -> {title, subject, keywords}; None = the catalogue the tutor was trained with."""
    search_k: int = 3
    quiz_min_similarity: float = 0.3
    """A section's held-out questions join a quiz only when its text is this similar (MiniLM cosine) to the topic, and
    a held-out question from elsewhere only when it is itself this similar."""

    def __post_init__(self) -> None:
        self.catalogue = self.catalogue or dict(DEFAULT_CATALOGUE)
        self._quiz_by_section: dict[str, list[dict[str, str]]] = {}
        for rec in self.quiz_items:
            if rec.get("kind") not in QUIZ_KINDS:
                continue
            turns = [m for m in rec.get("messages", []) if m.get("role") in ("user", "assistant")]
            if len(turns) != 2 or turns[0]["role"] != "user" or not rec.get("section_id"):
                continue
            item = {
                "question": turns[0]["content"],
                "answer": turns[1]["content"],
                "kind": rec["kind"],
                "section_id": rec["section_id"],
                "subject": rec.get("subject"),
            }
            self._quiz_by_section.setdefault(rec["section_id"], []).append(item)
        self._quiz_all = [q for items in self._quiz_by_section.values() for q in items]
        self._quiz_vectors: Any = None
        self._lock = threading.Lock()

    @property
    def quiz_sections(self) -> int:
        return len(self._quiz_by_section)

    def run(self, call: dict[str, Any], subject: str | None = None) -> ToolOutcome:
        """Execute {name, arguments}; ToolCallError for a call that is not valid against the tool specs."""
        assert self.catalogue is not None
        if problems := validate_call(call, self.catalogue):
            raise ToolCallError("; ".join(problems))
        name, args = call["name"], dict(call.get("arguments") or {})
        if name == "search_textbook":
            return self._search(args, subject)
        if name == "make_quiz":
            return self._quiz(args, subject)
        return self._model(args)

    def _search(self, args: dict[str, Any], subject: str | None) -> ToolOutcome:
        hits = self.index.search(args["query"], self.search_k, subject)
        results = [
            {
                "section_id": h.chunk["section_id"],
                "heading": h.chunk["heading_path"][-1] if h.chunk["heading_path"] else "",
                "pages": [h.chunk["page"], h.chunk["page"]],
                "snippet": snippet(h.chunk["text"]),
            }
            for h in hits
        ]
        client = {
            "results": [
                r | {"file": h.chunk["file"], "page_label": h.chunk["page_label"], "chunk_id": h.chunk["chunk_id"]}
                for r, h in zip(results, hits, strict=True)
            ]
        }
        return ToolOutcome("search_textbook", args, {"results": results}, client)

    def _quiz(self, args: dict[str, Any], subject: str | None) -> ToolOutcome:
        """The questions of the sections the topic is found in, best section first, up to n_questions."""
        topic, n = args["topic"], args["n_questions"]
        hits: list[Hit] = self.index.search(topic, 10, subject)
        picked: list[dict[str, str]] = []
        sections: list[str] = []
        for h in hits:
            sid = h.chunk["section_id"]
            if h.score < self.quiz_min_similarity:  # search always answers; a far section is not the topic's
                break
            if sid in sections or sid not in self._quiz_by_section:
                continue
            sections.append(sid)
            picked += self._quiz_by_section[sid]
            if len(picked) >= n:
                break
        if len(picked) < n:  # the test split holds few sections: the nearest held-out questions by meaning
            picked += self._similar_questions(topic, subject, exclude=picked, limit=n - len(picked))
            sections += [q["section_id"] for q in picked if q["section_id"] not in sections]
        picked = picked[:n]
        model = {"topic": topic, "questions": [{"question": q["question"], "answer": q["answer"]} for q in picked]}
        if not picked:
            log.info("make_quiz %r: no held-out question within reach", topic)
        return ToolOutcome("make_quiz", args, model, model | {"sections": sections, "asked": n})

    def _similar_questions(
        self, topic: str, subject: str | None, exclude: list[dict[str, str]], limit: int
    ) -> list[dict[str, str]]:
        from tutorforge.retrieval.embedder import embed

        if not self._quiz_all:
            return []
        with self._lock:  # embedded once, on the first quiz that needs it
            if self._quiz_vectors is None:
                self._quiz_vectors = embed([q["question"] for q in self._quiz_all], self.index.manifest["embedder"])
        scores = self._quiz_vectors @ embed([topic], self.index.manifest["embedder"])[0]
        ranked = sorted(range(len(self._quiz_all)), key=lambda i: -float(scores[i]))
        out = []
        for i in ranked:
            q = self._quiz_all[i]
            if float(scores[i]) < self.quiz_min_similarity or len(out) >= limit:
                break
            if q in exclude or (subject and q.get("subject") != subject):
                continue
            out.append(q)
        return out

    def _model(self, args: dict[str, Any]) -> ToolOutcome:
        assert self.catalogue is not None
        mid = args["model_id"]
        entry, asset = self.catalogue[mid], self.assets.get(mid, {})
        model = {"status": "displayed", "model_id": mid, "title": entry["title"]}
        client = {
            "model_id": mid,
            "title": entry["title"],
            "subject": entry.get("subject"),
            "asset": asset.get("asset"),
            "animations": list(asset.get("animations", [])),
        }
        return ToolOutcome("show_3d_model", args, model, client)


def snippet(text: str, words: int = 40) -> str:
    """The start of a chunk, cut at a word: what a search result shows (training snippets were one sentence)."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")
