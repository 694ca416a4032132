"""Single-turn question kinds of the deterministic generator: cloze, definition, why, multiple choice, paraphrases.

    b = SectionBuilder(section, defs, terms, cfg, catalogue)   # tutorforge.synth.builders
    questions.cloze(b)   # -> [{"kind": "cloze", "messages": [{"role": "user", "content": "Fill in the blank: ..."}, ...]}]

Each function takes a SectionBuilder (its sentences, definitions, causal links, key terms, seeded RNG and record
factory) and returns candidate records; SectionBuilder's methods of the same names call them. The templates below are
versioned by builders.TEMPLATE_VERSION.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tutorforge.core.records import mc_prompt, mc_reply
from tutorforge.text.rules import lower_first, norm, upper_first, words

if TYPE_CHECKING:
    from tutorforge.synth.builders import SectionBuilder


CLOZE_Q = ["Fill in the blank: {s}", "Complete the sentence with the missing word: {s}", "Which word is missing? {s}"]
DEF_Q = ["{q}", "Define {term}.", 'In your textbook, what does the term "{term}" mean?']
# The direct counterpart of the Socratic comparison (dialogues.SOC_COMPARE_Q: the same words): both definitions, stated.
# Without it a plain "What's the difference between ...?" was only ever answered Socratically, and the tutor answered
# direct questions with "Let's compare them ..." (issue 13: ROUGE-L on the frozen benchmark did not move).
COMPARE_Q = [
    "What's the difference between {a} and {b}?",
    "How is {a} different from {b}?",
    "Are {a} and {b} the same thing?",
]
COMPARE_A = ["{a} {b}", "They are different ideas. {a} {b}"]
MC_DEF_Q = ['Which term is described here: "{body}"?', "Choose the term that matches this description: {body}."]
MC_CLOZE_Q = ["Which word completes the sentence? {s}"]
PARA = {
    "definition": ["Can you explain what {x} is?", "In simple terms, what is {x}?", "Tell me what {x} means."],
    "why": ["Can you explain why {x}?", "Why is it that {x}?", "I'd like to understand why {x}."],
    "any": ["Could you help me with this question: {q}", "Here is something I'm unsure about. {q}"],
}


def cloze(b: SectionBuilder) -> list[dict]:
    out = []
    for i, sent in enumerate(b.sents):
        if not 6 <= len(words(sent)) <= 40 or "=" in sent or sent.endswith("?") or re.match(r"(Figure|Table)\b", sent):
            continue
        for term in [d.term for d in b.defs] + b.terms:
            m = re.search(rf"\b{re.escape(term)}\b", sent, flags=re.I)
            if m and len(sent) - len(term) > 25:
                masked = sent[: m.start()] + "_____" + sent[m.end() :]
                if re.search(rf"\b{re.escape(term)}", masked, flags=re.I):
                    continue  # the term appears again: the blank would be given away
                v = b.rng("cloze", i).randrange(len(CLOZE_Q))
                out.append(
                    b.record(
                        "cloze",
                        "cloze",
                        v,
                        [
                            {"role": "user", "content": CLOZE_Q[v].format(s=masked)},
                            {"role": "assistant", "content": m.group(0)},
                        ],
                        {"answer": m.group(0), "masked": masked},
                        sent,
                    )
                )
                break
    return out


def definition(b: SectionBuilder) -> list[dict]:
    out = []
    for d in b.defs:
        v = b.rng("definition", d.term).randrange(len(DEF_Q))
        out.append(
            b.record(
                "definition",
                "definition",
                v,
                [
                    {"role": "user", "content": DEF_Q[v].format(q=d.question, term=d.term)},
                    {"role": "assistant", "content": upper_first(d.sentence)},
                ],
                {"term": d.term, "pattern": d.pattern},
                d.sentence,
            )
        )
    return out


def comparisons(b: SectionBuilder) -> list[dict]:
    """ "What's the difference between A and B?" for two terms the section defines, answered with both definitions
    (kind 'definition', template definition.compare): the same pairs and question wording as the Socratic comparisons,
    so only the system prompt tells the modes apart."""
    defs = list({d.term.lower(): d for d in b.defs}.values())
    out = []
    for d, e in zip(defs, defs[1:], strict=False):
        rng = b.rng("definition.compare", d.term, e.term)
        first, second = (d, e) if rng.random() < 0.5 else (e, d)
        vq, va = rng.randrange(len(COMPARE_Q)), rng.randrange(len(COMPARE_A))
        answer = COMPARE_A[va].format(a=upper_first(first.sentence), b=upper_first(second.sentence))
        out.append(
            b.record(
                "definition",
                "definition.compare",
                vq * 10 + va,
                [
                    {"role": "user", "content": COMPARE_Q[vq].format(a=first.term, b=second.term)},
                    {"role": "assistant", "content": answer},
                ],
                {"term": first.term, "pattern": "compare", "compared_with": second.term},
                first.sentence,
            )
        )
    return out


def why(b: SectionBuilder) -> list[dict]:
    return [
        b.record(
            "why",
            f"why.{c.marker.replace(' ', '_')}",
            0,
            [
                {"role": "user", "content": upper_first(c.question)},
                {"role": "assistant", "content": upper_first(c.answer)},
            ],
            {"question_type": c.qtype, "marker": c.marker},
            c.sentence,
        )
        for c in b.causes
    ]


def mc(b: SectionBuilder) -> list[dict]:
    out = []
    n = b.cfg.mc_options
    for d in b.defs:
        pool = [x.term for x in b.chapter_defs if norm(x.term) != norm(d.term)]
        pool += [t for t in b.chapter_terms if norm(t) not in norm(d.term) and t not in norm(d.body).split()]
        out += _mc(b, d.term, pool, n, "mc.definition", MC_DEF_Q, {"body": d.body}, d.sentence)
    for c in b.cloze():
        ans = c["meta"]["answer"]
        pool = [t for t in b.chapter_terms + [x.term for x in b.chapter_defs] if norm(t) != norm(ans)]
        out += _mc(b, ans, pool, n, "mc.cloze", MC_CLOZE_Q, {"s": c["meta"]["masked"]}, c["provenance"]["sentence"])
    return out


def _mc(
    b: SectionBuilder, answer: str, pool: list[str], n: int, tid: str, tpl: list[str], fields: dict, sent: str
) -> list:
    def stem(t: str) -> str:  # "cells"/"cell", "Acids"/"acid" are one option
        return re.sub(r"(?:es|s)$", "", norm(t))

    seen, distractors = {stem(answer)}, []
    rng = b.rng("mc", tid, answer)
    for t in pool:  # chapter definitions first (most plausible), then chapter key terms
        if stem(t) not in seen:
            seen.add(stem(t))
            distractors.append(t)
    if len(distractors) < n - 1:
        return []
    options = [answer, *rng.sample(distractors[: max(n + 2, n - 1)], n - 1)]
    rng.shuffle(options)
    k = options.index(answer)
    v = rng.randrange(len(tpl))
    prompt = mc_prompt(tpl[v].format(**fields), options)
    return [
        b.record(
            "mc",
            tid,
            v,
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": mc_reply(options, k)}],
            {"options": options, "answer_index": k},
            sent,
        )
    ]


def paraphrases(b: SectionBuilder, examples: list[dict], rate: float) -> list[dict]:
    out = []
    for ex in examples:
        if ex["kind"] not in ("definition", "why") or b.rng("paraphrase", ex["example_id"]).random() >= rate:
            continue
        q = ex["messages"][0]["content"]
        m = re.match(r"^(?:What (?:is|are) |Explain why )(.+?)[?.]$", q)
        rng = b.rng("paraphrase.v", ex["example_id"])
        if m and ex["kind"] == "definition" and q.startswith("What"):
            group, x = "definition", m.group(1)
        elif m and ex["kind"] == "why":
            group, x = "why", m.group(1)
        else:
            group, x = "any", ""
        v = rng.randrange(len(PARA[group]))
        new_q = PARA[group][v].format(x=x, q=lower_first(q) if group != "any" else q)
        if norm(new_q) == norm(q):
            continue
        rec = b.record(
            "paraphrase",
            f"paraphrase.{group}",
            v,
            [{"role": "user", "content": new_q}, *ex["messages"][1:]],
            {"of": ex["example_id"], "original_question": q},
        )
        out.append(rec)
    return out
