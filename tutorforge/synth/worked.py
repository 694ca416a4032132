"""Worked problems of the deterministic generator: a formula from the section, drawn values, step-by-step solution.

    b = SectionBuilder(section, defs, terms, cfg, catalogue)   # tutorforge.synth.builders
    worked.worked(b)   # v = d / t -> "... If d (distance) = 120, t (time) = 8, what is v (speed)?" + "Step 1: ... Answer: v = 15."

Forward problems ask for the left-hand side; for a two-variable product or quotient, an inverse problem (given the
left-hand side, find one factor) is drawn half the time. Values come from the builder's seeded RNG.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tutorforge.text.formulas import Formula, fmt_num, variable_names
from tutorforge.text.rules import upper_first

if TYPE_CHECKING:
    from tutorforge.synth.builders import SectionBuilder


# "What's the formula for speed?" answered with the formula and what its letters stand for (the Socratic mode asks
# the same words and withholds it: dialogues.SOC_FORMULA_ASK)
FORMULA_Q = ["What's the formula for {target}?", "Which equation gives {target}?", "How do I calculate {target}?"]


# A worked problem asked in a student's own words ("What is the speed if the distance is 120 and the time is 8?"). Both
# modes ask the same words (asked_problems here, dialogues._calculation_openings under the Socratic prompt): with
# only the Socratic openings in these words, the tutor replied "Which formula connects them?" to plain-mode
# calculations (19 of 60 plain benchmark answers were guiding questions, issue 13).
CALC_ASK = [
    "What is {target} if {given}?",
    "I know that {given}. How much is {target}?",
    "Work out {target} for me: {given}.",
    "How do I get {target} when {given}?",
]
CALC_ASKS = 2  # phrasings per worked problem (each asked in both modes)


def calculation_asks(b: SectionBuilder, meta: dict) -> list[tuple[int, str, str]]:
    """(template index, the student's question, how the target is said) for a worked problem's meta: the same
    phrasings for both modes (one seeded draw per problem)."""
    names = meta.get("names") or {}

    def said(v: str) -> str:  # "the time taken" for t when the book names it, else the symbol
        return f"the {names[v]}" if names.get(v) else v

    target = said(meta["target"])
    given = " and ".join(f"{said(v)} is {fmt_num(x)}" for v, x in meta["values"].items())
    rng = b.rng("socratic.calculation.asks", meta["formula"], given)
    return [
        (va, upper_first(CALC_ASK[va].format(target=target, given=given)), target)
        for va in rng.sample(range(len(CALC_ASK)), CALC_ASKS)
    ]


def asked_problems(b: SectionBuilder) -> list[dict]:
    """Plain mode: each worked problem asked in the student's words, answered with one line of working
    ("a = F/m, so a = 199/60 = 3.317 m/s2."), as a tutor answers a direct question."""
    out = []
    for w in worked(b):
        for va, q, _ in calculation_asks(b, w["meta"]):
            msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": w["meta"]["solution"]}]
            out.append(b.record("worked", "worked.asked", va, msgs, w["meta"]))
    return out


# "Worked example 2.1" boxes of the books (corpus/markup.py renders them as a heading line, the problem, the working)
BOOK_EXAMPLE = re.compile(r"^Worked example [\w.]+[ \t]*\n(?P<body>(?:.+\n?){1,12})", re.M)


def book_examples(text: str) -> list[tuple[str, str]]:
    """(problem, first step of the working) of each worked-example box in a section's text: the problem is the box's
    text up to the first line ending in "?" or a line whose sentence asks (Find/Solve/Calculate/Work out ...), the
    working the lines after it up to the first that ends a sentence (at most 3)."""
    out = []
    for m in BOOK_EXAMPLE.finditer(text):
        lines = [x.strip() for x in m.group("body").splitlines() if x.strip()]
        for i, line in enumerate(lines[:4]):
            last = re.split(r"(?<=[.?])\s+", " ".join(lines[: i + 1]))[-1]  # the problem's last sentence
            if line.endswith("?") or (line.endswith(".") and re.match(r"(Find|Solve|Calculate|Work out|Show)\b", last)):
                problem = " ".join(lines[: i + 1])
                working: list[str] = []
                for x in lines[i + 1 : i + 4]:
                    working.append(x)
                    if x.endswith((".", "!")):
                        break
                if working:
                    out.append((problem, " ".join(working)))
                break
    return out


def book_problems(b: SectionBuilder) -> list[dict]:
    """The books' own worked examples as questions with the first step of their working as the answer."""
    out = []
    for problem, working in book_examples(b.s["text"]):
        msgs = [{"role": "user", "content": problem}, {"role": "assistant", "content": working}]
        out.append(b.record("worked", "worked.book", 0, msgs, {"problem": problem, "working": working}, problem))
    return out


def formula_answer(formula: str, letters: list[str], names: Mapping[str, str | None]) -> str:
    """The formula and what its letters stand for: "a = F/m, where a is the acceleration, F is the resultant force and
    m is the mass." (letters in the given order; those the book does not name are left out; the first is named)."""
    parts = [f"{x} is the {names[x]}" for x in letters if names.get(x)]
    return f"{formula}, where " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + "."


def formula_questions(b: SectionBuilder) -> list[dict]:
    """Per formula of the section whose left-hand side the book names: the formula and its letters, as a direct answer."""
    out = []
    for fi, f in enumerate(Formula.find(b.raw)):
        names = {v: variable_names(b.raw, v)[0] for v in [f.lhs, *f.variables]}
        if not names[f.lhs]:
            continue
        rng = b.rng("worked.formula", fi)
        v = rng.randrange(len(FORMULA_Q))
        answer = formula_answer(f.text, [f.lhs, *f.variables], names)
        q = FORMULA_Q[v].format(target=f"the {names[f.lhs]}")
        msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": answer}]  # "v = d/t": case is meaning
        out.append(b.record("worked", "worked.formula", v, msgs, {"formula": f.text, "target": f.lhs}))
    return out


def worked(b: SectionBuilder) -> list[dict]:
    out = []
    for fi, f in enumerate(Formula.find(b.raw)):
        rng = b.rng("worked", fi)
        names = {v: variable_names(b.raw, v) for v in [f.lhs, *f.variables]}
        target, knowns = f.lhs, {v: _draw(rng) for v in f.variables}
        tree = f.tree
        if tree[1] in "*/" and tree[2][0] == "var" and tree[3][0] == "var" and rng.random() < 0.5:
            target = rng.choice(f.variables)  # inverse problem: give the lhs, ask for one factor
            lhs_value = f.evaluate({**knowns})
            if math.isfinite(lhs_value) and abs(lhs_value * 1000 - round(lhs_value * 1000)) < 1e-6:  # prints exactly
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
        q = f'Use the formula {f.text} from the section "{b.heading}". If {given}, what is {_label(target, names)}?'
        result = f"{fmt_num(answer)}{_unit(unit)}"
        if target == f.lhs:
            solution = f"{f.text}, so {f.lhs} = {f.substituted({k: fmt_num(x) for k, x in values.items()})} = {result}."
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
            solution = f"{f.text}, so {inv} = {_subst(inv.split('=', 1)[1], values)} = {result}."
            steps = [
                f"Step 1: Write down the formula: {f.text}.",
                f"Step 2: Rearrange it for {target}: {inv}.",
                f"Step 3: Substitute the known values: {target} = {_subst(inv.split('=', 1)[1], values)}.",
                f"Step 4: Calculate: {target} = {fmt_num(answer)}{_unit(unit)}{_dp(answer)}.",
            ]
        steps.append(f"Answer: {target} = {fmt_num(answer)}{_unit(unit)}.")
        out.append(
            b.record(
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
                    "names": {v: names[v][0] for v in sorted(names)},
                    "solution": solution,  # in one line (asked_problems' answer)
                },
            )
        )
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
