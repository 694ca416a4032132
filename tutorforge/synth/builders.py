"""Deterministic (model-free) instruction examples from textbook sections, one builder per kind.

    defs, terms = chapter_index(sections)[chapter_key(section)]
    b = SectionBuilder(section, defs, terms, cfg, catalogue)     # cfg: tutorforge.synth.generate.SynthConfig (seed, mc_options)
    b.cloze() / definition() / why() / worked() / mc() / socratic() / tool_call(); b.paraphrases(made, rate)

Every builder returns candidate example records (contract: tutorforge/synth/generate.py docstring); the caller caps them per
section with a seeded RNG. Phrasings are versioned templates (TEMPLATE_VERSION bumps when any wording changes), and
each record's provenance says which template variant produced it, from which section and pages, with which seed.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

from tutorforge.core.ids import stable_id
from tutorforge.core.io import dumps
from tutorforge.text.rules import (
    Definition,
    Formula,
    causal,
    content_tokens,
    definition,
    fmt_num,
    key_terms,
    lower_first,
    norm,
    sentences,
    upper_first,
    variable_names,
    words,
)
from tutorforge.tools.specs import signatures

TEMPLATE_VERSION = 1
GENERATOR = "deterministic"
LETTERS = "ABCDEFGH"

CLOZE_Q = ["Fill in the blank: {s}", "Complete the sentence with the missing word: {s}", "Which word is missing? {s}"]
DEF_Q = ["{q}", "Define {term}.", 'In your textbook, what does the term "{term}" mean?']
MC_DEF_Q = ['Which term is described here: "{body}"?', "Choose the term that matches this description: {body}."]
MC_CLOZE_Q = ["Which word completes the sentence? {s}"]
SOC_OPEN = ["I don't really get this. {q}", "Can you help me with a question? {q}", "{q} I'm stuck on this one."]
SOC_HINT_DEF = [
    'Look at the words around "{term}" in the section "{heading}". What kind of thing do you think '
    "{term} is, and what does it do?",
    "What do you already know about {term}? How would you describe it in your own words?",
    'Think about the role {term} plays in the topic "{heading}". What could its job be?',
]
SOC_HINT_WHY = [
    'Which fact in the section "{heading}" could explain this?',
    'What do you think is the reason? Think about what the section "{heading}" says.',
    "What would have to be true for this to happen?",
]
SOC_ATTEMPT = ["Is it something to do with {hint}?", "Maybe it has to do with {hint}?"]
SOC_CLOSE = [
    "Yes, you are on the right track. {answer} Can you think of an example of this?",
    "Exactly, well reasoned. {answer} How would you explain this to a classmate?",
]
SEARCH_Q = [
    "Where does my textbook explain {term}?",
    "Can you look up {term} in the textbook for me?",
    "Find the part of the book about {term}, please.",
]
QUIZ_Q = ["Can you give me a quiz with {n} {questions} on {topic}?", "Quiz me on {topic}: {n} {questions}, please."]
MODEL_Q = ["Can you show me a 3D model of {title}?", "I can't picture {kw}. Is there a 3D model I can look at?"]
PARA = {
    "definition": ["Can you explain what {x} is?", "In simple terms, what is {x}?", "Tell me what {x} means."],
    "why": ["Can you explain why {x}?", "Why is it that {x}?", "I'd like to understand why {x}."],
    "any": ["Could you help me with this question: {q}", "Here is something I'm unsure about. {q}"],
}


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

    # --- kinds -------------------------------------------------------------------------------------------------
    def cloze(self) -> list[dict]:
        out = []
        for i, sent in enumerate(self.sents):
            if (
                not 6 <= len(words(sent)) <= 40
                or "=" in sent
                or sent.endswith("?")
                or re.match(r"(Figure|Table)\b", sent)
            ):
                continue
            for term in [d.term for d in self.defs] + self.terms:
                m = re.search(rf"\b{re.escape(term)}\b", sent, flags=re.I)
                if m and len(sent) - len(term) > 25:
                    masked = sent[: m.start()] + "_____" + sent[m.end() :]
                    if re.search(rf"\b{re.escape(term)}", masked, flags=re.I):
                        continue  # the term appears again: the blank would be given away
                    v = self.rng("cloze", i).randrange(len(CLOZE_Q))
                    out.append(
                        self.record(
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

    def definition(self) -> list[dict]:
        out = []
        for d in self.defs:
            v = self.rng("definition", d.term).randrange(len(DEF_Q))
            out.append(
                self.record(
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

    def why(self) -> list[dict]:
        return [
            self.record(
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
            for c in self.causes
        ]

    def worked(self) -> list[dict]:
        out = []
        for fi, f in enumerate(Formula.find(self.raw)):
            rng = self.rng("worked", fi)
            names = {v: variable_names(self.raw, v) for v in [f.lhs, *f.variables]}
            target, knowns = f.lhs, {v: _draw(rng) for v in f.variables}
            tree = f.tree
            if tree[1] in "*/" and tree[2][0] == "var" and tree[3][0] == "var" and rng.random() < 0.5:
                target = rng.choice(f.variables)  # inverse problem: give the lhs, ask for one factor
                lhs_value = f.evaluate({**knowns})
                if (
                    math.isfinite(lhs_value) and abs(lhs_value * 1000 - round(lhs_value * 1000)) < 1e-6
                ):  # prints exactly
                    knowns.pop(target)
                    knowns[f.lhs] = lhs_value
                else:
                    target = f.lhs
            values = {v: knowns[v] for v in sorted(knowns)}
            answer = _solve(f, target, values)
            if answer is None or not math.isfinite(answer) or abs(answer) > 1e12:
                continue
            unit = names[target][1]
            given = ", ".join(f"{_label(v, names)} = {fmt_num(x)}{_unit(names[v][1])}" for v, x in values.items())
            q = (
                f'Use the formula {f.text} from the section "{self.heading}". If {given}, what is '
                f"{_label(target, names)}?"
            )
            if target == f.lhs:
                steps = [
                    f"Step 1: Write down the formula: {f.text}.",
                    f"Step 2: Substitute the known values: {f.lhs} = "
                    f"{f.substituted({k: fmt_num(x) for k, x in values.items()})}.",
                    f"Step 3: Calculate: {f.lhs} = {fmt_num(answer)}{_unit(unit)}{_dp(answer)}.",
                ]
            else:
                other = next(v for v in f.variables if v != target)
                inv = (
                    f"{target} = {f.lhs} / {other}"
                    if tree[1] == "*"
                    else f"{target} = {f.lhs} × {other}"
                    if target == tree[2][1]
                    else f"{target} = {other} / {f.lhs}"
                )
                steps = [
                    f"Step 1: Write down the formula: {f.text}.",
                    f"Step 2: Rearrange it for {target}: {inv}.",
                    f"Step 3: Substitute the known values: {target} = {_subst(inv.split('=', 1)[1], values)}.",
                    f"Step 4: Calculate: {target} = {fmt_num(answer)}{_unit(unit)}{_dp(answer)}.",
                ]
            steps.append(f"Answer: {target} = {fmt_num(answer)}{_unit(unit)}.")
            out.append(
                self.record(
                    "worked",
                    "worked",
                    int(target != f.lhs),
                    [{"role": "user", "content": q}, {"role": "assistant", "content": "\n".join(steps)}],
                    {
                        "formula": f.text,
                        "target": target,
                        "values": {k: round(x, 6) for k, x in values.items()},
                        "answer": round(answer, 6),
                        "unit": unit,
                    },
                )
            )
        return out

    def mc(self) -> list[dict]:
        out = []
        n = self.cfg.mc_options
        for d in self.defs:
            pool = [x.term for x in self.chapter_defs if norm(x.term) != norm(d.term)]
            pool += [t for t in self.chapter_terms if norm(t) not in norm(d.term) and t not in norm(d.body).split()]
            out += self._mc(d.term, pool, n, "mc.definition", MC_DEF_Q, {"body": d.body}, d.sentence)
        for c in self.cloze():
            ans = c["meta"]["answer"]
            pool = [t for t in self.chapter_terms + [x.term for x in self.chapter_defs] if norm(t) != norm(ans)]
            out += self._mc(
                ans, pool, n, "mc.cloze", MC_CLOZE_Q, {"s": c["meta"]["masked"]}, c["provenance"]["sentence"]
            )
        return out

    def _mc(self, answer: str, pool: list[str], n: int, tid: str, tpl: list[str], fields: dict, sent: str) -> list:
        def stem(t: str) -> str:  # "cells"/"cell", "Acids"/"acid" are one option
            return re.sub(r"(?:es|s)$", "", norm(t))

        seen, distractors = {stem(answer)}, []
        rng = self.rng("mc", tid, answer)
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
        prompt = tpl[v].format(**fields) + "\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
        return [
            self.record(
                "mc",
                tid,
                v,
                [{"role": "user", "content": prompt}, {"role": "assistant", "content": f"{LETTERS[k]}. {answer}"}],
                {"options": options, "answer_index": k},
                sent,
            )
        ]

    def socratic(self) -> list[dict]:
        items: list[tuple[str, str, str, str, str]] = []  # (key, question, answer, hint source, sentence)
        items += [(d.phrase, d.question, upper_first(d.sentence), d.body, d.sentence) for d in self.defs]
        items += [
            (c.effect, upper_first(c.question), upper_first(c.answer), c.cause, c.sentence)
            for c in self.causes
            if c.qtype == "why"
        ]
        out = []
        for key, q, answer, hint_src, sent in items:
            rng = self.rng("socratic", key)
            is_def = any(d.sentence == sent for d in self.defs)
            context = self._context(sent, answer, hint_src, f"{key} {q}")
            hints = SOC_HINT_DEF if is_def else SOC_HINT_WHY
            vo, vh, va, vc = (rng.randrange(len(t)) for t in (SOC_OPEN, hints, SOC_ATTEMPT, SOC_CLOSE))
            clue = f'Here is a clue from your textbook: "{context}" ' if context else ""
            first = clue + hints[vh].format(term=key, heading=self.heading)
            hint_words = [w for w in content_tokens(hint_src) if w not in content_tokens(q)][:2] or ["the text"]
            msgs = [
                {"role": "user", "content": SOC_OPEN[vo].format(q=q)},
                {"role": "assistant", "content": first},
                {"role": "user", "content": SOC_ATTEMPT[va].format(hint=" and ".join(hint_words))},
                {"role": "assistant", "content": SOC_CLOSE[vc].format(answer=answer)},
            ]
            out.append(
                self.record(
                    "socratic",
                    "socratic.definition" if is_def else "socratic.why",
                    vo * 100 + vh * 10 + va,
                    msgs,
                    {"withheld_answer": hint_src, "reference_answer": answer, "tutor_turns": 2},
                    sent,
                )
            )
        return out

    def _context(self, sent: str, answer: str, hidden: str, topic: str = "") -> str | None:
        """The sentence sharing most words with the topic (nearest first on ties) that does not give the answer away."""
        i = self.sents.index(sent)
        want = set(content_tokens(topic))
        best, best_key = None, None
        for j, c in enumerate(self.sents):
            if j == i or norm(hidden) in norm(c) or norm(answer) in norm(c) or "=" in c or len(c) > 300:
                continue
            key = (-len(want & set(content_tokens(c))), abs(j - i))
            if best_key is None or key < best_key:
                best, best_key = c, key
        return best

    def tool_call(self) -> list[dict]:
        out = []
        system = {
            "role": "system",
            "content": "You are a patient school tutor. You can call these tools:\n" + signatures(self.catalogue),
        }
        rng = self.rng("tool_call")
        for term in ([d.term for d in self.defs] + self.terms)[:3]:
            snippet = next((x for x in self.sents if re.search(rf"\b{re.escape(term)}\b", x, re.I)), None)
            if not snippet:
                continue
            v = rng.randrange(len(SEARCH_Q))
            result = {
                "results": [
                    {
                        "section_id": self.sid,
                        "heading": self.heading,
                        "pages": [self.s.get("page_start"), self.s.get("page_end")],
                        "snippet": snippet,
                    }
                ]
            }
            final = f'Your textbook covers {term} in "{self.heading}" ({_pages(self.s)}). It says: "{snippet}"'
            out.append(
                self._tool(
                    system,
                    SEARCH_Q[v].format(term=term),
                    "search_textbook",
                    {"query": term},
                    result,
                    final,
                    "tool.search_textbook",
                    v,
                )
            )
        quiz = [(m[0]["content"], m[1]["content"]) for m in [r["messages"] for r in self.definition()[:3]]] or [
            (m[0]["content"], m[1]["content"]) for m in [r["messages"] for r in self.cloze()[:3]]
        ]
        if quiz and self.heading:
            n = rng.randint(min(2, len(quiz)), len(quiz))
            v = rng.randrange(len(QUIZ_Q))
            result = {"topic": self.heading, "questions": [{"question": q, "answer": a} for q, a in quiz[:n]]}
            final = (
                f"Here is your quiz on {self.heading}:\n"
                + "\n".join(f"{i}. {q}" for i, (q, _) in enumerate(quiz[:n], 1))
                + "\nTry to answer them, then check with me."
            )
            out.append(
                self._tool(
                    system,
                    QUIZ_Q[v].format(n=n, topic=self.heading, questions="question" if n == 1 else "questions"),
                    "make_quiz",
                    {"topic": self.heading, "n_questions": n},
                    result,
                    final,
                    "tool.make_quiz",
                    v,
                )
            )
        low = self.flat.lower()
        best = None
        for mid, m in sorted(self.catalogue.items()):
            if self.s.get("subject") not in (m.get("subject"), None, "unknown"):
                continue
            hits = [k for k in m.get("keywords", []) if re.search(rf"\b{re.escape(k.lower())}\b", low)]
            if hits and (best is None or len(hits) > len(best[2])):
                best = (mid, m, hits)
        if best:
            mid, m, hits = best
            v = rng.randrange(len(MODEL_Q))
            sent = next(x for x in self.sents + [self.flat] if re.search(rf"\b{re.escape(hits[0])}\b", x.lower()))
            final = (
                f"I've opened the 3D model of {m['title']}. While you rotate it, remember what your textbook "
                f'says: "{sent}" What do you notice about the {hits[0]}?'
            )
            out.append(
                self._tool(
                    system,
                    MODEL_Q[v].format(title=m["title"], kw=hits[0]),
                    "show_3d_model",
                    {"model_id": mid},
                    {"status": "displayed", "model_id": mid, "title": m["title"]},
                    final,
                    "tool.show_3d_model",
                    v,
                )
            )
        return out

    def _tool(self, system: dict, ask: str, name: str, args: dict, result: dict, final: str, tid: str, v: int) -> dict:
        msgs = [
            system,
            {"role": "user", "content": ask},
            {"role": "assistant", "content": "", "tool_calls": [{"name": name, "arguments": args}]},
            {"role": "tool", "content": json.dumps(result, ensure_ascii=False, sort_keys=True)},
            {"role": "assistant", "content": final},
        ]
        return self.record("tool_call", tid, v, msgs, {"tool": name})

    def paraphrases(self, examples: list[dict], rate: float) -> list[dict]:
        out = []
        for ex in examples:
            if ex["kind"] not in ("definition", "why") or self.rng("paraphrase", ex["example_id"]).random() >= rate:
                continue
            q = ex["messages"][0]["content"]
            m = re.match(r"^(?:What (?:is|are) |Explain why )(.+?)[?.]$", q)
            rng = self.rng("paraphrase.v", ex["example_id"])
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
            rec = self.record(
                "paraphrase",
                f"paraphrase.{group}",
                v,
                [{"role": "user", "content": new_q}, *ex["messages"][1:]],
                {"of": ex["example_id"], "original_question": q},
            )
            out.append(rec)
        return out


def _draw(rng: random.Random) -> float:
    return float(rng.choice([rng.randint(2, 20), rng.randint(2, 20) * 5, rng.randint(10, 200)]))


def _solve(f: Formula, target: str, values: dict[str, float]) -> float | None:
    """Forward evaluation, or bisection-free inversion of a two-variable product/quotient."""
    if target == f.lhs:
        return f.evaluate(values)
    op, a, b = f.tree[1], f.tree[2][1], f.tree[3][1]
    lhs = values[f.lhs]
    other = values[b if target == a else a]
    if op == "*":
        return lhs / other if other else None
    return lhs * other if target == a else (other / lhs if lhs else None)


def _subst(expr: str, values: dict[str, float]) -> str:
    names = {k: fmt_num(x) for k, x in values.items()}
    return re.sub(r"[A-Za-zρλΔθ]\w*", lambda m: names.get(m.group(0), m.group(0)), expr).strip()


def _dp(x: float) -> str:
    return "" if abs(x * 1000 - round(x * 1000)) < 1e-6 else " (to 3 decimal places)"


def _label(v: str, names: dict[str, tuple[str | None, str | None]]) -> str:
    d = names[v][0]
    return f"{v} ({d})" if d else v


def _unit(u: str | None) -> str:
    return f" {u}" if u else ""


def _pages(s: dict) -> str:
    a, b = s.get("page_start"), s.get("page_end")
    return f"page {a}" if a == b else f"pages {a}-{b}"


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
