"""Quality filters for instruction examples; each rejection names its filter and a reason.

    kept, rejected, counts = apply_filters(examples, sections_by_id, FilterConfig(), catalogue)

Order (the first failing filter rejects): malformed (teacher output we could not parse), length, language,
grounding, paraphrase (must keep the original question's topic words), tool_call, socratic, duplicate.
`counts[filter][kind]` says what each filter removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tutorforge.core.config import Fraction, NonNegInt, PositiveInt, forbid_extra
from tutorforge.core.io import dumps
from tutorforge.text.rules import STOPWORDS, content_tokens, norm
from tutorforge.tools.specs import validate_call

FILTERS = ("malformed", "length", "language", "grounding", "paraphrase", "tool_call", "socratic", "duplicate")


@forbid_extra
@dataclass
class FilterConfig:
    min_chars: NonNegInt = 2
    """Shortest allowed user/assistant message (characters; assistant tool-call messages may be empty)."""
    max_chars: PositiveInt = 2500
    """Longest allowed user/assistant message (characters)."""
    language_min_words: NonNegInt = 8
    """The stopword test only runs on messages with at least this many words (short answers carry no signal)."""
    min_stopword_share: Fraction = 0.12
    """English check: share of common English stopwords among the words of each user/assistant message."""
    min_ascii_letter_share: Fraction = 0.9
    """English check: share of ASCII letters among all letters."""
    grounding_threshold: Fraction = 0.6
    """Share of the answer's content tokens that must occur in its source section."""
    paraphrase_min_overlap: Fraction = 0.3
    """Share of the original question's content tokens a paraphrase must keep (else it changed the topic)."""


def grounding_text(ex: dict) -> str | None:
    """The part of an example that must come from its section (None = not checked for this kind)."""
    kind, meta, msgs = ex["kind"], ex.get("meta") or {}, ex["messages"]
    if kind == "mc":
        opts, k = meta.get("options") or [], meta.get("answer_index")
        return opts[k] if isinstance(k, int) and 0 <= k < len(opts) else ""
    if kind == "socratic":
        return meta.get("withheld_answer") or ""
    if kind == "worked":  # a formula of the section, or a book's worked example: its working
        return meta.get("formula") or meta.get("working") or ""
    if kind == "tool_call":
        return None  # checked by the tool-call validator instead
    last = [m for m in msgs if m["role"] == "assistant"]
    return last[-1]["content"] if last else ""


def grounding_score(answer: str, section_text: str) -> float:
    toks = content_tokens(answer)
    if not toks:
        toks = re.findall(r"[a-z0-9]+", answer.lower())
    if not toks:
        return 0.0
    have = set(content_tokens(section_text)) | set(re.findall(r"[a-z0-9]+", section_text.lower()))
    return sum(t in have for t in toks) / len(toks)


def check(ex: dict, section: dict | None, cfg: FilterConfig, catalogue: dict[str, dict]) -> tuple[str, str] | None:
    """(filter, reason) for the first filter `ex` fails, else None (duplicates are handled by apply_filters)."""
    if (ex.get("meta") or {}).get("parse_error"):
        return "malformed", ex["meta"]["parse_error"]
    msgs = ex.get("messages") or []
    if not msgs or not any(m["role"] == "user" for m in msgs) or msgs[-1]["role"] != "assistant":
        return "malformed", "needs a user message and must end with an assistant message"
    for m in msgs:
        if m["role"] in ("user", "assistant") and not m.get("tool_calls"):
            n = len(m.get("content") or "")
            if not cfg.min_chars <= n <= cfg.max_chars:
                return "length", f"{m['role']} message has {n} chars, allowed [{cfg.min_chars}, {cfg.max_chars}]"
    for m in msgs:  # per message, so an English question cannot carry a foreign answer
        text = m.get("content") or ""
        letters = re.findall(r"[^\W\d_]", text)
        if m["role"] not in ("user", "assistant") or not letters:
            continue
        ascii_share = sum(c.isascii() for c in letters) / max(1, len(letters))
        if ascii_share < cfg.min_ascii_letter_share:
            return "language", f"{m['role']}: ASCII letter share {ascii_share:.2f} < {cfg.min_ascii_letter_share}"
        ws = re.findall(r"[A-Za-z']+", text.lower())
        if len(ws) >= cfg.language_min_words:
            share = sum(w in STOPWORDS for w in ws) / len(ws)
            if share < cfg.min_stopword_share:
                return "language", f"{m['role']}: English stopword share {share:.2f} < {cfg.min_stopword_share}"
    g = grounding_text(ex)
    if g is not None:
        if section is None:
            return "grounding", f"source section {ex.get('section_id')} not found"
        score = grounding_score(g, section["text"])
        if score < cfg.grounding_threshold:
            return "grounding", f"answer overlap with section {score:.2f} < {cfg.grounding_threshold}"
    if ex["kind"] == "paraphrase":
        orig = set(content_tokens((ex.get("meta") or {}).get("original_question") or ""))
        new = set(content_tokens(next(m["content"] for m in msgs if m["role"] == "user")))
        kept_share = len(orig & new) / max(1, len(orig))
        if kept_share < cfg.paraphrase_min_overlap:
            return (
                "paraphrase",
                f"keeps {kept_share:.2f} of the original question's words < {cfg.paraphrase_min_overlap}",
            )
    if ex["kind"] == "tool_call":
        calls = [c for m in msgs if m["role"] == "assistant" for c in (m.get("tool_calls") or [])]
        if not calls:
            return "tool_call", "no tool call in the assistant messages"
        problems = [p for c in calls for p in validate_call(c, catalogue)]
        if problems:
            return "tool_call", "; ".join(problems)
        i = next(i for i, m in enumerate(msgs) if m.get("tool_calls"))
        # a conversation may end at the call (the model learns to make it); one that goes on hears the tool first
        if i + 1 < len(msgs) and msgs[i + 1]["role"] != "tool":
            return "tool_call", "a tool call must be followed by a tool message"
    if ex["kind"] == "socratic":
        tutor = [m["content"] for m in msgs if m["role"] == "assistant"]
        answer = (ex.get("meta") or {}).get("withheld_answer") or ""
        if not tutor or "?" not in tutor[0]:
            return "socratic", "first tutor turn asks no guiding question"
        if answer and norm(answer) and f" {norm(answer)} " in f" {norm(tutor[0])} ":
            return "socratic", "first tutor turn gives the withheld answer verbatim"
    return None


def apply_filters(
    examples: list[dict], sections: dict[str, dict], cfg: FilterConfig, catalogue: dict[str, dict]
) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    """(kept, rejected records {filter, reason, example_id, kind, example}, counts[filter][kind])."""
    kept, rejected = [], []
    counts: dict[str, dict[str, int]] = {f: {} for f in FILTERS}
    seen: dict[str, str] = {}
    for ex in examples:
        verdict = check(ex, sections.get(ex.get("section_id", "")), cfg, catalogue)
        if verdict is None:
            key = dumps(
                [
                    {"role": m["role"], "content": norm(m.get("content") or ""), "tool_calls": m.get("tool_calls")}
                    for m in ex["messages"]
                    if m["role"] != "system"
                ]
            )
            if key in seen:
                verdict = ("duplicate", f"same messages as {seen[key]}")
            else:
                seen[key] = ex["example_id"]
        if verdict is None:
            kept.append(ex)
            continue
        name, reason = verdict
        counts[name][ex["kind"]] = counts[name].get(ex["kind"], 0) + 1
        rejected.append(
            {"filter": name, "reason": reason, "example_id": ex["example_id"], "kind": ex["kind"], "example": ex}
        )
    return kept, rejected, counts


def rejection_summary(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {f: {"total": sum(c.values()), "by_kind": dict(sorted(c.items()))} for f, c in counts.items()}
