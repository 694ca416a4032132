"""Synth: the deterministic generator (every kind, provenance, arithmetic, MC, Socratic, tool calls), the quality
filters, and the stage CLI. Teacher backends (a real HTTP server, real SmolLM2): tests/test_synth_teacher.py."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from stages import synth as synth_stage
from tests.support.sections import SECTIONS
from tutorforge.core.io import dumps, read_jsonl
from tutorforge.eval.metrics.socratic_rate.socratic_rate import leaks_answer
from tutorforge.synth import generate as synth
from tutorforge.synth.filters import FilterConfig, apply_filters
from tutorforge.text.formulas import Formula, fmt_num
from tutorforge.tools.specs import DEFAULT_CATALOGUE, validate_call

BY_ID = {s["section_id"]: s for s in SECTIONS}


@pytest.fixture(scope="module")
def det() -> list[dict]:
    return synth.generate_deterministic(SECTIONS, synth.SynthConfig())


def _bytes(examples: list[dict]) -> str:
    return "".join(dumps(e) + "\n" for e in examples)


def test_deterministic_byte_identical_per_seed_and_order_independent(det):
    again = synth.generate_deterministic(copy.deepcopy(SECTIONS), synth.SynthConfig())
    assert _bytes(det) == _bytes(again)
    other = synth.generate_deterministic(SECTIONS, synth.SynthConfig(seed=7))
    assert _bytes(other) != _bytes(det)
    reordered = synth.generate_deterministic(SECTIONS[::-1], synth.SynthConfig())
    assert sorted(map(dumps, reordered)) == sorted(map(dumps, det))


def test_every_kind_is_produced_with_provenance(det):
    kinds = {e["kind"] for e in det}
    assert kinds == {"cloze", "definition", "why", "worked", "mc", "socratic", "tool_call", "paraphrase", "qa"}
    for e in det:
        p = e["provenance"]
        sec = BY_ID[e["section_id"]]
        assert e["source"] == "synth:deterministic" and p["generator"] == "deterministic"
        assert p["template_id"].startswith("det.") and p["template_version"] >= 1 and p["seed"] == 1337
        assert (p["page_start"], p["page_end"]) == (sec["page_start"], sec["page_end"])
        if "sentence" in p:  # sentence-level provenance: the page (from the spans) the sentence starts on
            start = sec["text"].find(" ".join(p["sentence"].split()[:3]))
            if start >= 0:
                assert p["page"] == sec["page_start"] + (start > sec["spans"][0]["end"]), (p, start)
        assert e["subject"] == sec["subject"]
    defs = {e["meta"]["term"] for e in det if e["kind"] == "definition"}
    assert {"osmosis", "velocity", "photosynthesis"} & defs  # "defined as" and "is called" patterns
    worked_formulas = {e["meta"]["formula"] for e in det if e["kind"] == "worked"}
    assert {"v = d / t", "F = m × a", "ρ = m / V"} <= worked_formulas
    assert {e["meta"]["tool"] for e in det if e["kind"] == "tool_call"} == {
        "search_textbook",
        "make_quiz",
        "show_3d_model",
    }
    why = [e for e in det if e["kind"] == "why"]
    assert any(
        e["messages"][0]["content"] == "Explain why ice floats on water."
        and e["messages"][1]["content"] == "Because ice is less dense than liquid water."
        for e in why
    )
    caps = synth.SynthConfig().caps  # on the builders' candidates; the Socratic examples' plain twins come on top
    for sid in BY_ID:
        for kind, cap in caps.items():
            made = [e for e in det if e["section_id"] == sid and e["kind"] == kind]
            assert sum(not e["provenance"]["template_id"].startswith("det.twin.") for e in made) <= cap


def test_worked_problems_arithmetic(det):
    worked = [e for e in det if e["provenance"]["template_id"] == "det.worked"]
    asked = [e for e in det if e["provenance"]["template_id"] == "det.worked.asked"]
    assert len(worked) >= 4 and asked
    formulas = [e for e in det if e["provenance"]["template_id"] == "det.worked.formula"]
    assert formulas, "the fixture sections name the quantity of at least one formula"
    for e in formulas:  # "What's the formula for the speed?" -> "v = d/t, where v is the speed, ..." (case kept)
        answer = e["messages"][-1]["content"]
        assert answer.startswith(e["meta"]["formula"] + ", where " + e["meta"]["target"] + " is the ")
    for e in worked:
        m = e["meta"]
        f = next(f for f in Formula.find(m["formula"]))
        vals = dict(m["values"])
        if m["target"] == f.lhs:
            assert f.evaluate(vals) == pytest.approx(m["answer"], rel=1e-6)
        else:  # inverse problem: plugging the answer back in reproduces the given lhs
            given = vals.pop(f.lhs)
            assert f.evaluate({**vals, m["target"]: m["answer"]}) == pytest.approx(given, rel=1e-6)
        text = e["messages"][-1]["content"]
        assert f"Answer: {m['target']} = {fmt_num(m['answer'])}" in text
        assert text.startswith("Step 1: Write down the formula: " + m["formula"])
    for e in asked:  # the same problems in a student's words, answered in one line of working
        m, text = e["meta"], e["messages"][-1]["content"]
        unit = f" {m['unit']}" if m["unit"] else ""
        assert text.startswith(m["formula"] + ", so ") and text.endswith(f"= {fmt_num(m['answer'])}{unit}.")
        assert all(fmt_num(x) in e["messages"][0]["content"] for x in m["values"].values())
    # formulas parse with precedence and parentheses; fused symbols (implicit multiplication) are refused
    assert Formula.find("a = (v - u) / t, where")[0].evaluate({"v": 30, "u": 10, "t": 4}) == 5
    assert Formula.find("v = u + a × t")[0].evaluate({"u": 1, "a": 2, "t": 3}) == 7
    assert Formula.find("s = ut + ½at²") == [] and Formula.find("E = mc²") == [] and Formula.find("x = 5") == []
    assert Formula.find("a = (v − u) / t")[0].evaluate({"v": 9, "u": 1, "t": 2}) == 4  # Unicode minus from PDFs
    assert [f.text for f in Formula.find("v = f × λ Sound travels at 340 m/s.")] == ["v = f × λ"]
    assert Formula.find("Ek = 1⁄2 × m × v2.") == []  # v² flattened to "v2" by the text layer: ambiguous
    display = dict(
        SECTIONS[2],
        section_id="display",
        text="4.2 Power\nPower is the rate at which work is done.\n"
        "P = W / t\nwhere W is the work done in joules and t is the time in seconds.\n",
    )
    made = synth.generate_deterministic([display], synth.SynthConfig())
    power = [e for e in made if e["provenance"]["template_id"] == "det.worked"]
    assert [e["meta"]["formula"] for e in power] == ["P = W / t"]  # a formula on its own line is found too
    speed = Formula.find("v = d / t")[0]
    assert speed.evaluate({"d": 120, "t": 8}) == 15
    assert Formula.find("A = 0.5 × b × h")[0].evaluate({"b": 4, "h": 3}) == 6
    assert Formula.find("E = m × c²")[0].evaluate({"m": 2, "c": 3}) == 18


def test_cloze_blank_is_not_given_away(det):
    cloze = [e for e in det if e["kind"] == "cloze"]
    assert len(cloze) >= 6
    for e in cloze:
        masked, answer = e["meta"]["masked"], e["meta"]["answer"]
        assert masked.count("_____") == 1 and e["messages"][-1]["content"] == answer
        assert not re.search(rf"\b{re.escape(answer)}\b", masked, re.I)
        assert masked.replace("_____", answer) == e["provenance"]["sentence"]


def test_mc_answer_index_and_same_chapter_distractors(det):
    mcs = [e for e in det if e["kind"] == "mc"]
    assert mcs
    for e in mcs:
        opts, k = e["meta"]["options"], e["meta"]["answer_index"]
        assert len(opts) == 4 and len({re.sub(r"(?:es|s)$", "", o.lower()) for o in opts}) == 4  # no cell/cells
        assert e["messages"][-1]["content"] == f"{'ABCD'[k]}. {opts[k]}"  # the right option's letter and words
        assert e["messages"][0]["content"].endswith("".join(f"\n{'ABCD'[i]}. {o}" for i, o in enumerate(opts)))
        sec = BY_ID[e["section_id"]]
        chapter_text = " ".join(
            s["text"] for s in SECTIONS if (s["doc_id"], s["chapter"]) == (sec["doc_id"], sec["chapter"])
        ).lower()
        for i, o in enumerate(opts):
            if i != k:
                assert re.search(rf"\b{re.escape(o.lower())}\b", chapter_text), (o, sec["chapter"])
    # the options are shuffled: the answer is not always in the same slot
    assert len({e["meta"]["answer_index"] for e in mcs}) > 1


def test_socratic_first_turn_guides_without_answer(det):
    soc = [e for e in det if e["kind"] == "socratic"]
    assert soc
    for e in soc:
        first = next(m["content"] for m in e["messages"] if m["role"] == "assistant")
        assert "?" in first
        assert e["meta"]["withheld_answer"].lower() not in first.lower()
        if e["meta"]["tutor_turns"] == 2:  # a whole dialogue: the closing turn confirms the answer
            assert e["meta"]["reference_answer"] in e["messages"][-1]["content"]
        else:  # the opening exchange only
            assert [m["role"] for m in e["messages"]] == ["user", "assistant"]
        # nothing quoted from the book and not most of the answer (the benchmark's LCS leak rule)
        assert '"' not in first and not leaks_answer(first, e["meta"]["reference_answer"], 0.5), first
    # openings outnumber closing turns (a closing turn states the answer), and the plain cloze/MC questions come in
    # Socratic mode too, word for word, so that only the system prompt tells the two modes apart
    openings = sum(e["meta"]["tutor_turns"] == 1 for e in soc)
    assert openings > sum(e["meta"]["tutor_turns"] == 2 for e in soc)
    plain = {e["messages"][0]["content"] for e in det if e["kind"] in ("cloze", "mc")}
    twins = [e for e in soc if e["provenance"]["template_id"] == "det.socratic.choice"]
    assert twins and any(any(q in e["messages"][0]["content"] for q in plain) for e in twins)
    # students who demand the answer outright get a guiding question too
    assert any(re.search(r"just (tell|give|say)|tell me straight", e["messages"][0]["content"], re.I) for e in soc)
    kept, rejected, _ = apply_filters(soc, BY_ID, FilterConfig(), DEFAULT_CATALOGUE)
    assert len(kept) == len(soc) and not rejected
    leak = copy.deepcopy(soc[0])
    leak["messages"][1]["content"] = f"It is {leak['meta']['withheld_answer']}. Got it?"
    noq = copy.deepcopy(soc[0])
    noq["messages"][1]["content"] = "Let me just tell you the whole story."
    _, rejected, counts = apply_filters([leak, noq], BY_ID, FilterConfig(), DEFAULT_CATALOGUE)
    assert [r["filter"] for r in rejected] == ["socratic", "socratic"]
    assert {r["reason"] for r in rejected} == {
        "first tutor turn gives the withheld answer verbatim",
        "first tutor turn asks no guiding question",
    }


def test_tool_requests_say_what_the_call_holds(det):
    """A quiz request names the number of questions (a digit or a word) and the topic the call carries; a 3D-model
    request describes the model by its title or one of its catalogue keywords; every model of a section's subject is
    asked for somewhere."""
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    tools = [e for e in det if e["kind"] == "tool_call"]
    quizzes = [(e["messages"][1]["content"], e["messages"][2]["tool_calls"][0]["arguments"]) for e in tools]
    quizzes = [(ask, a) for ask, a in quizzes if "n_questions" in a]
    assert quizzes
    for ask, args in quizzes:
        n = args["n_questions"]
        assert re.search(rf"\b({n}|{words[n - 1]})\b", ask, re.I) and args["topic"].lower() in ask.lower(), ask
    models = [(e["messages"][1]["content"], e["messages"][2]["tool_calls"][0]["arguments"]) for e in tools]
    models = [(ask.lower(), a["model_id"]) for ask, a in models if "model_id" in a]
    for ask, mid in models:
        m = DEFAULT_CATALOGUE[mid]
        assert m["title"].lower() in ask or any(k in ask for k in m["keywords"]), (ask, mid)
    subjects = {BY_ID[e["section_id"]]["subject"] for e in tools}
    wanted = {mid for mid, m in DEFAULT_CATALOGUE.items() if m["subject"] in subjects}
    assert {mid for _, mid in models} == wanted


def _tool_example(det: list[dict], tool: str) -> dict:
    """A whole conversation (call, tool result, reply) with `tool` (only a share of them go on past the call: other
    seeds are tried until the few fixture sections give one)."""
    for seed in range(1337, 1357):
        examples = det if seed == 1337 else synth.generate_deterministic(SECTIONS, synth.SynthConfig(seed=seed))
        for e in examples:
            if e["kind"] == "tool_call" and e["meta"]["tool"] == tool and e["meta"]["answered"]:
                return copy.deepcopy(e)
    raise AssertionError(f"no answered {tool} conversation in 20 seeds")


def test_tool_calls_validate_and_malformed_ones_are_rejected(det):
    for e in det:
        for m in e["messages"]:
            for call in m.get("tool_calls") or []:
                assert validate_call(call, DEFAULT_CATALOGUE) == []
    cases = {
        "unknown tool": ("search_textbook", {"name": "open_browser", "arguments": {"url": "x"}}),
        "missing required argument 'query'": ("search_textbook", {"name": "search_textbook", "arguments": {}}),
        "expected integer": ("make_quiz", {"name": "make_quiz", "arguments": {"topic": "cells", "n_questions": "3"}}),
        "outside [1, 10]": ("make_quiz", {"name": "make_quiz", "arguments": {"topic": "cells", "n_questions": 50}}),
        "not in allowed values": ("show_3d_model", {"name": "show_3d_model", "arguments": {"model_id": "t_rex"}}),
        "unexpected argument 'colour'": (
            "show_3d_model",
            {"name": "show_3d_model", "arguments": {"model_id": "plant_cell", "colour": "red"}},
        ),
    }
    bad = []
    for want, (tool, call) in cases.items():
        e = _tool_example(det, tool)
        e["messages"][2]["tool_calls"] = [call]
        e["example_id"] = want
        bad.append(e)
    no_result = _tool_example(det, "search_textbook")
    del no_result["messages"][3]
    no_result["example_id"] = "followed by a tool message"
    bad.append(no_result)
    kept, rejected, counts = apply_filters(bad, BY_ID, FilterConfig(), DEFAULT_CATALOGUE)
    assert kept == [] and counts["tool_call"]["tool_call"] == len(bad)
    for r in rejected:
        assert r["filter"] == "tool_call" and r["example_id"] in r["reason"], r
    # a conversation that ends at the call (the extra 3D-model requests) is a valid example
    call_only = [e for e in det if e["provenance"]["template_id"].endswith(".call")]
    assert call_only and all(e["messages"][-1]["tool_calls"] for e in call_only)
    kept, rejected, _ = apply_filters(call_only, BY_ID, FilterConfig(), DEFAULT_CATALOGUE)
    # (two sections may ask for a model in the same words: the copy is a duplicate, not a malformed call)
    assert kept and all(r["filter"] == "duplicate" for r in rejected), rejected
    # arguments as a JSON string (OpenAI wire format) are understood
    assert (
        validate_call({"name": "make_quiz", "arguments": '{"topic": "cells", "n_questions": 2}'}, DEFAULT_CATALOGUE)
        == []
    )


def test_grounding_language_length_and_duplicate_filters(det):
    good = copy.deepcopy(next(e for e in det if e["kind"] == "definition"))
    ungrounded = copy.deepcopy(good)
    ungrounded["messages"][-1]["content"] = "Volcanoes erupt when magma pressure builds under tectonic plates."
    german = copy.deepcopy(good)
    german["messages"][-1]["content"] = "Die Zelle ist die kleinste Einheit aller Lebewesen und besteht aus Plasma."
    cyrillic = copy.deepcopy(good)
    cyrillic["messages"][0]["content"] = "Что такое клетка и почему она важна для жизни организма?"
    too_long = copy.deepcopy(good)
    too_long["messages"][0]["content"] = "Why? " * 600
    dup = copy.deepcopy(good)
    dup["example_id"] = "dup"
    dup["messages"][0]["content"] = good["messages"][0]["content"].upper()  # same after normalisation
    kept, rejected, counts = apply_filters(
        [good, ungrounded, german, cyrillic, too_long, dup], BY_ID, FilterConfig(), DEFAULT_CATALOGUE
    )
    assert kept == [good]
    assert [r["filter"] for r in rejected] == ["grounding", "language", "language", "length", "duplicate"]
    assert "overlap" in rejected[0]["reason"] and "stopword" in rejected[1]["reason"]
    assert "ASCII" in rejected[2]["reason"] and good["example_id"] in rejected[4]["reason"]
    assert counts["grounding"] == {"definition": 1} and counts["duplicate"] == {"definition": 1}
    # a higher threshold removes more; a threshold of 0 keeps the ungrounded answer
    _, rej0, _ = apply_filters([ungrounded], BY_ID, FilterConfig(grounding_threshold=0.0), DEFAULT_CATALOGUE)
    assert rej0 == []


def _write_sections(path: Path, sections: list[dict]) -> None:
    path.write_text("".join(json.dumps(s) + "\n" for s in sections), encoding="utf-8")


def test_cli_outputs_report_and_keeps_previous_outputs_on_bad_input(tmp_path, capsys):
    sec = tmp_path / "sections.jsonl"
    _write_sections(sec, SECTIONS)
    params = tmp_path / "params.yaml"
    params.write_text("seed: 1337\nsynth:\n  paraphrase_rate: 0.0\n")
    out = tmp_path / "synth"

    def cli(sections: Path) -> int:
        return synth_stage.main(["-p", str(params), "-S", f"synth.input={sections}", "-S", f"synth.output={out}"])

    assert cli(sec) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(first) == {"examples.jsonl", "rejected.jsonl", "report.json"}
    report = json.loads(first["report.json"])
    examples = list(read_jsonl(out / "examples.jsonl"))
    assert report["kept"] == len(examples) and report["generated"] == report["kept"] + report["rejected"]
    assert report["kept_by_kind"] == {k: sum(e["kind"] == k for e in examples) for k in report["kept_by_kind"]}
    assert "paraphrase" not in report["generated_by_kind"] and report["teacher"]["backend"] == "none"
    assert report["input_sha256"] and report["rejected_by_filter"]["grounding"]["total"] == 0
    assert cli(sec) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    broken = tmp_path / "broken.jsonl"
    _write_sections(broken, [{"text": "no id"}])
    capsys.readouterr()
    assert cli(broken) == 1 and "lack section_id" in capsys.readouterr().err
    params.write_text("seed: 1\nsynth:\n  teacher: {backend: none, temprature: 0.1}\n")
    assert cli(sec) == 2 and "temprature" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_calculations_asked_in_a_students_words_get_a_plan_not_the_number(det):
    """Socratic openings of the worked problems in other words ("What is the speed if ...?"), and "what's the formula
    for ...?": the tutor's first turn asks for the plan and states neither the result nor the formula."""
    openings = [e for e in det if e["provenance"]["template_id"] == "det.socratic.calculation.opening"]
    formulas = [e for e in det if e["provenance"]["template_id"] == "det.socratic.formula"]
    assert openings and formulas
    for e in openings + formulas:
        (student, tutor) = (m["content"] for m in e["messages"])
        assert "?" in tutor and e["meta"]["withheld_answer"] not in tutor
        number = re.search(r"= ([-\d.]+)", e["meta"]["reference_answer"])
        if e in openings:
            assert number and number.group(1).rstrip(".") not in re.findall(r"[-\d.]+", tutor)
            assert re.search(r"\d", student)  # the given values are in the question
    # the plain mode asks the same words and gets the working: only the system prompt tells the modes apart
    plain = {e["messages"][0]["content"] for e in det if e["provenance"]["template_id"] == "det.worked.asked"}
    assert all(any(q in e["messages"][0]["content"] for q in plain) for e in openings)


def test_every_socratic_example_has_a_plain_twin_in_the_same_words(det):
    """A plain-mode twin per Socratic example: the student's first turn word for word ("Just tell me ..." included),
    answered directly, so the wording cannot tell the modes apart and only the system prompt can."""
    socratic = {e["example_id"]: e for e in det if e["kind"] == "socratic"}
    twins = [e for e in det if e["provenance"]["template_id"].startswith("det.twin.")]
    assert twins and {t["kind"] for t in twins} <= {"qa", "worked"}
    by_original = {t["meta"]["twin_of"]: t for t in twins}
    missing = [i for i, e in socratic.items() if i not in by_original and not e["meta"].get("no_twin")]
    assert not missing
    for original_id, twin in by_original.items():
        original = socratic[original_id]
        assert len(twin["messages"]) == 2 and twin["messages"][0] == original["messages"][0]
        reply = twin["messages"][1]["content"]
        assert reply != original["messages"][1]["content"] and not reply.rstrip().endswith("?")
    calc = [t for t in twins if t["provenance"]["template_id"] == "det.twin.socratic.calculation"]
    assert calc and all(re.search(r"= [-\d.]+", t["messages"][1]["content"]) for t in calc)  # the working, in one line
    assert all(t["kind"] == "worked" and t["meta"]["formula"] for t in calc)  # grounded on the section's formula
