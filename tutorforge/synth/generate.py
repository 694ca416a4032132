"""Synth: sections -> synthetic instruction examples (rule-based, optionally a teacher LM), filtered, with provenance.

    kept, rejected, report = synthesize(sections, SynthConfig())      # pure: nothing is read or written
    python -m stages.synth                                            # the stage; offline, ~seconds
    python -m stages.synth -S synth.teacher.backend=hf -S synth.teacher.model=smollm2     # + a local HF causal LM

Deterministic generator (`generate_deterministic`, no model): cloze, definition, why/how, worked numeric problems
from formulas, multiple choice with distractors from the same chapter, template Socratic dialogues, and tool-call
examples for the tutor tools (search_textbook, make_quiz, show_3d_model) - capped per kind per section with an RNG
seeded by (seed, section_id, kind), so output is byte-identical for a seed and independent of section order.
Paraphrases (template rewrites) of a `paraphrase_rate` share of definition/why questions, and a plain-mode twin of
every Socratic example (the student's words answered directly: dialogues.plain_twins). The optional teacher
(`teacher.backend: hf|openai`) adds Q&A, Socratic, tool-call and paraphrase examples for `teacher.max_sections`.
All examples then pass the quality filters (tutorforge.synth.filters); rejects are returned with reasons.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tutorforge.core.config import Fraction, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, forbid_extra, section
from tutorforge.core.logs import get_logger, progress
from tutorforge.synth.builders import SectionBuilder, chapter_index, chapter_key
from tutorforge.synth.filters import FilterConfig, apply_filters, rejection_summary
from tutorforge.tools.specs import DEFAULT_CATALOGUE

log = get_logger(__name__)
KINDS = ("cloze", "definition", "why", "worked", "mc", "socratic", "tool_call")


@forbid_extra
@dataclass
class TeacherConfig:
    backend: str = "none"
    """none | hf (local Hugging Face causal LM dir or 'smollm2') | openai (chat-completions endpoint, e.g. vLLM)."""
    model: str = "smollm2"
    """hf: a local model dir or the 'smollm2' alias; openai: the served model name."""
    max_sections: NonNegInt = 8
    """How many sections (seeded choice) the teacher sees."""
    tasks: list[str] = field(default_factory=lambda: ["qa", "socratic", "tool_call", "paraphrase"])
    """Teacher prompt templates to run per section."""
    max_new_tokens: PositiveInt = 160
    """Generation budget per prompt."""
    temperature: NonNegFloat = 0.7
    """Sampling temperature (0 = greedy)."""
    batch_size: PositiveInt = 8
    """hf backend: prompts per generate() call (left-padded)."""
    threads: NonNegInt = 0
    """hf backend: torch CPU threads while generating (0 = torch default; 1 is much faster on a busy CPU)."""
    max_passage_chars: PositiveInt = 1200
    """Section text is cut to this many characters in prompts."""
    timeout_s: PositiveFloat = 60.0
    """openai backend: per-request timeout."""
    max_retries: NonNegInt = 3
    """openai backend: retries after a 5xx / 429 / network error (exponential backoff)."""
    concurrency: PositiveInt = 4
    """openai backend: requests in flight."""


@section("synth")
@dataclass
class SynthConfig:
    input: str = "artifacts/segment/sections.jsonl"
    """Sections from the segment stage."""
    output: str = "artifacts/synth"
    """Output dir: examples.jsonl, rejected.jsonl, report.json."""
    seed: int = 1337
    """Shared seed: every RNG here is derived from it."""
    caps: dict[str, NonNegInt] = field(
        default_factory=lambda: {
            "cloze": 2,
            "definition": 5,
            "why": 2,
            "worked": 8,
            "mc": 2,
            "socratic": 12,
            "tool_call": 15,
        }
    )
    """Max examples per kind per section (kinds: cloze, definition, why, worked, mc, socratic, tool_call); paraphrases
    and the plain twins of the kept Socratic examples (kind qa, or worked for calculations) come on top."""
    mc_options: PositiveInt = 4
    """Options per multiple-choice item (1 answer + distractors from the same chapter)."""
    paraphrase_rate: Fraction = 0.3
    """Share of definition/why questions that also get a template paraphrase (kind 'paraphrase')."""
    tool_models: dict[str, dict] = field(default_factory=lambda: dict(DEFAULT_CATALOGUE))
    """3D-model catalogue for show_3d_model: model_id -> {title, subject, keywords}."""
    filters: FilterConfig = field(default_factory=FilterConfig)
    """Quality filter thresholds (tutorforge.synth.filters.FilterConfig)."""
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    """Teacher LM settings; backend 'none' keeps the default run fast and offline."""

    def __post_init__(self) -> None:
        if set(self.caps) - set(KINDS):
            raise ValueError(f"synth.caps: unknown kind(s) {sorted(set(self.caps) - set(KINDS))}; kinds: {list(KINDS)}")


def generate_deterministic(sections: list[dict], cfg: SynthConfig) -> list[dict]:
    """Model-free examples of every kind for `sections` (unfiltered), in section then kind order."""
    chapters = chapter_index(sections)
    out: list[dict] = []
    for sec in progress(sections, "synth deterministic", logger=log):
        defs, terms = chapters[chapter_key(sec)]
        b = SectionBuilder(sec, defs, terms, cfg, cfg.tool_models)
        made: list[dict] = []
        for kind in KINDS:
            cands = getattr(b, kind)()
            cap = cfg.caps.get(kind, 0)
            if len(cands) > cap:
                keep = sorted(b.rng(f"cap.{kind}").sample(range(len(cands)), cap))
                cands = [cands[i] for i in keep]
            made += cands
        made += b.paraphrases(made, cfg.paraphrase_rate)
        made += b.plain_twins(made)
        out += made
    return out


def synthesize(sections: list[dict], cfg: SynthConfig, teacher: Any = None) -> tuple[list, list, dict]:
    """(kept examples, rejected records, report) for `sections`; `teacher` overrides cfg.teacher's backend."""
    t0 = time.time()
    det = generate_deterministic(sections, cfg)
    generated = list(det)
    tinfo: dict[str, Any] = {"backend": cfg.teacher.backend, "model": None, "sections": 0, "outputs": 0}
    if teacher is None and cfg.teacher.backend != "none":
        from tutorforge.synth.teachers import make_teacher

        t = cfg.teacher
        teacher = make_teacher(
            t.backend,
            t.model,
            batch_size=t.batch_size,
            threads=t.threads,
            timeout_s=t.timeout_s,
            max_retries=t.max_retries,
            concurrency=t.concurrency,
        )
    if teacher is not None:
        from tutorforge.synth.teacher_examples import teacher_examples

        tex = teacher_examples(sections, det, teacher, cfg.teacher, cfg.seed, cfg.tool_models)
        generated += tex
        tinfo.update(
            model=teacher.name,
            sections=min(len(sections), cfg.teacher.max_sections),
            outputs=len(tex),
            parse_errors=sum(bool(e["meta"].get("parse_error")) for e in tex),
        )
    by_id = {s["section_id"]: s for s in sections}
    kept, rejected, counts = apply_filters(generated, by_id, cfg.filters, cfg.tool_models)
    kept.sort(key=lambda e: e["example_id"])
    rejected.sort(key=lambda r: r["example_id"])
    kinds = sorted({e["kind"] for e in generated})
    report = {
        "sections": len(sections),
        "generated": len(generated),
        "kept": len(kept),
        "rejected": len(rejected),
        "generated_by_kind": {k: sum(e["kind"] == k for e in generated) for k in kinds},
        "kept_by_kind": dict(sorted(Counter(e["kind"] for e in kept).items())),
        "kept_by_source": dict(sorted(Counter(e["source"] for e in kept).items())),
        "kept_by_subject": dict(sorted(Counter(str(e["subject"]) for e in kept).items())),
        "rejected_by_filter": rejection_summary(counts),
        "teacher": tinfo,
        "sections_without_examples": len(set(by_id) - {e["section_id"] for e in kept}),
    }
    log.info(
        "synth: %d generated, %d kept, %d rejected in %.1f s",
        len(generated),
        len(kept),
        len(rejected),
        time.time() - t0,
    )
    return kept, rejected, report
