"""Deterministic (model-free) instruction examples from textbook sections: the chapter index and SectionBuilder.

    defs, terms = chapter_index(sections)[chapter_key(section)]
    b = SectionBuilder(section, defs, terms, cfg, catalogue)     # cfg: tutorforge.synth.generate.SynthConfig (seed, mc_options)
    b.cloze() / definition() / why() / worked() / mc() / socratic() / tool_call(); b.paraphrases(made, rate);
    b.plain_twins(made)  # the plain-mode twin of each Socratic example (same student words, answered)

SectionBuilder reads the section once (sentences, definitions, causal links, key terms) and owns the seeded RNG and
the record factory; its kind methods delegate to sibling modules: questions (cloze, definition, why, MC, paraphrases),
worked (worked problems from formulas), dialogues (Socratic, tool calls).

Every builder returns candidate example records (contract: tutorforge/synth/generate.py docstring); the caller caps them per
section with a seeded RNG. Phrasings are versioned templates (TEMPLATE_VERSION bumps when any wording changes), and
each record's provenance says which template variant produced it, from which section and pages, with which seed.
"""

from __future__ import annotations

import random
import re
from typing import Any

from tutorforge.core.ids import stable_id
from tutorforge.core.io import dumps
from tutorforge.synth import dialogues, questions, worked
from tutorforge.text.rules import Definition, causal, definition, key_terms, sentences

TEMPLATE_VERSION = 8
GENERATOR = "deterministic"


class SectionBuilder:
    """Candidates of every kind for one section (chapter_terms/chapter_defs feed MC distractors)."""

    def __init__(
        self,
        section: dict,
        chapter_defs: list[Definition],
        chapter_terms: list[str],
        cfg: Any,
        catalogue: dict[str, dict],
    ) -> None:
        self.s, self.cfg, self.catalogue = section, cfg, catalogue
        self.sid = section["section_id"]
        self.heading = re.sub(r"^[\dIVX.]+\s+", "", (section.get("heading_path") or [section.get("chapter") or ""])[-1])
        self.sents = sentences(section["text"])
        self.raw = re.sub(r"\s+", " ", section["text"])  # formulas often stand on their own (dropped) lines
        self.flat = " ".join(self.sents) or self.raw
        self.defs = [d for d in (definition(x) for x in self.sents) if d]
        self.causes = [c for c in (causal(x, self.sents[i - 1] if i else None) for i, x in enumerate(self.sents)) if c]
        self.terms = [t for t in key_terms(section["text"], limit=12) if re.search(rf"\b{t}\b", self.flat.lower())]
        self.chapter_defs, self.chapter_terms = chapter_defs, chapter_terms

    def rng(self, kind: str, *extra: object) -> random.Random:
        return random.Random(int(stable_id(self.cfg.seed, self.sid, kind, *extra), 16))

    def record(
        self,
        kind: str,
        template: str,
        variant: int,
        messages: list[dict],
        meta: dict,
        source_sentence: str | None = None,
    ) -> dict:
        s = self.s
        prov = {
            "generator": GENERATOR,
            "template_id": f"det.{template}",
            "template_version": TEMPLATE_VERSION,
            "variant": variant,
            "seed": self.cfg.seed,
            "section_id": self.sid,
            "doc_id": s.get("doc_id"),
            "file": s.get("file"),
            "chapter": s.get("chapter"),
            "page_start": s.get("page_start"),
            "page_end": s.get("page_end"),
        }
        if source_sentence is not None:
            prov["sentence"] = source_sentence
            prov["page"] = self.page_of(source_sentence)
        return {
            "example_id": stable_id("synth", GENERATOR, self.sid, kind, dumps(messages)),
            "kind": kind,
            "messages": messages,
            "subject": s.get("subject"),
            "section_id": self.sid,
            "source": f"synth:{GENERATOR}",
            "provenance": prov,
            "meta": meta,
        }

    def page_of(self, sentence: str) -> int | None:
        """The page a sentence starts on, via the section's spans (text = span slices joined by newlines)."""
        ws = sentence.split()[:5]
        m = re.search(r"\s+".join(re.escape(w) for w in ws), self.s["text"]) if ws else None
        if not m:
            return None
        pos = 0
        for sp in self.s.get("spans") or []:
            pos += sp["end"] - sp["start"] + 1
            if m.start() < pos:
                return sp["page"]
        return None

    # --- kinds (same names as the kinds; generate.py calls them by name) -----------------------------------------
    def cloze(self) -> list[dict]:
        return questions.cloze(self)

    def definition(self) -> list[dict]:
        return questions.definition(self) + questions.comparisons(self)

    def why(self) -> list[dict]:
        return questions.why(self)

    def worked(self) -> list[dict]:
        return (
            worked.worked(self)
            + worked.asked_problems(self)
            + worked.book_problems(self)
            + worked.formula_questions(self)
        )

    def mc(self) -> list[dict]:
        return questions.mc(self)

    def socratic(self) -> list[dict]:
        return dialogues.socratic(self)

    def tool_call(self) -> list[dict]:
        return dialogues.tool_call(self)

    def paraphrases(self, examples: list[dict], rate: float) -> list[dict]:
        return questions.paraphrases(self, examples, rate)

    def plain_twins(self, examples: list[dict]) -> list[dict]:
        return dialogues.plain_twins(self, [e for e in examples if e["kind"] == "socratic"])


def chapter_key(section: dict) -> tuple:
    return (section.get("doc_id"), section.get("chapter"))


def chapter_index(sections: list[dict]) -> dict[tuple, tuple[list[Definition], list[str]]]:
    """Per chapter: its definitions (all sections) and its key terms, for MC distractors."""
    texts: dict[tuple, list[str]] = {}
    for s in sorted(sections, key=lambda s: (s.get("page_start") or 0, s["section_id"])):  # input-order independent
        texts.setdefault(chapter_key(s), []).append(s["text"])
    out = {}
    for k, ts in texts.items():
        defs = [d for t in ts for d in (definition(x) for x in sentences(t)) if d]
        out[k] = (defs, key_terms("\n".join(ts), limit=30))
    return out
