"""Teacher-LM examples: versioned prompt templates, and parsers that turn raw generations into example records.

    examples = teacher_examples(sections, det_examples, teacher, tcfg, seed, catalogue)

Tasks (`teacher.tasks` in params): qa, socratic, tool_call, paraphrase. A generation we cannot parse still becomes
a record with `meta.parse_error`, so the filters reject it with a reason instead of it vanishing silently.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from tutorforge.core.ids import stable_id
from tutorforge.core.io import dumps
from tutorforge.core.logs import get_logger
from tutorforge.text.rules import key_terms, sentences
from tutorforge.tools.specs import openai_tools, parse_call, signatures, validate_call

log = get_logger(__name__)
GENERATOR = "teacher"

PROMPTS: dict[str, dict[str, Any]] = {
    "teacher.qa": {
        "version": 1,
        "system": "You write exam questions for school students. Use only the passage.",
        "user": 'Passage ({subject}, "{heading}"):\n{text}\n\nWrite ONE question a student can answer '
        "from this passage, and its answer. Reply exactly in this form:\nQuestion: ...\nAnswer: ...",
    },
    "teacher.socratic": {
        "version": 1,
        "system": "You are a Socratic tutor. You never hand over the answer; you give a hint from the "
        "passage and ask a guiding question.",
        "user": 'Passage ({subject}, "{heading}"):\n{text}\n\nWrite a student\'s question about this passage, the '
        "tutor's first reply (one hint from the passage, then a guiding question, no answer), and the answer "
        "the tutor is steering towards. Reply exactly in this form:\nStudent: ...\nTutor: ...\nAnswer: ...",
    },
    "teacher.tool_call": {
        "version": 1,
        "system": "You are a tutor's assistant that calls tools. Tools:\n{tools}\nReply ONLY with one "
        'JSON object: {{"name": "<tool>", "arguments": {{...}}}}',
        "user": 'The student is reading "{heading}" ({subject}). Student: {request}',
    },
    "teacher.paraphrase": {
        "version": 1,
        "system": "You rewrite questions in different words without changing them.",
        "user": "Rewrite this question in different words, keeping its meaning:\n{question}\n"
        "Reply with the rewritten question only.",
    },
}
REQUESTS = {
    "search_textbook": "Where can I read about {term} in my book?",
    "make_quiz": "Can you quiz me on {heading} with {n} questions?",
    "show_3d_model": "Can you show me a 3D model of {title}?",
}


def _prompt(tid: str, **fields: Any) -> list[dict]:
    p = PROMPTS[tid]
    return [
        {"role": "system", "content": p["system"].format(**fields)},
        {"role": "user", "content": p["user"].format(**fields)},
    ]


def _record(sec: dict, kind: str, tid: str, messages: list[dict], meta: dict, prov: dict) -> dict:
    return {
        "example_id": stable_id("synth", GENERATOR, sec["section_id"], kind, tid, dumps(messages)),
        "kind": kind,
        "messages": messages,
        "subject": sec.get("subject"),
        "section_id": sec["section_id"],
        "source": f"synth:{GENERATOR}",
        "provenance": {
            **prov,
            "template_id": tid,
            "template_version": PROMPTS[tid]["version"],
            "section_id": sec["section_id"],
            "doc_id": sec.get("doc_id"),
            "file": sec.get("file"),
            "chapter": sec.get("chapter"),
            "page_start": sec.get("page_start"),
            "page_end": sec.get("page_end"),
        },
        "meta": meta,
    }


def _fields(raw: str, names: list[str]) -> dict[str, str] | None:
    """'Question: ... Answer: ...' (also 'Q:'/'A:', any case, any text before) -> {"question": .., "answer": ..}."""
    alias = {"Question": "Question|Q", "Answer": "Answer|A", "Student": "Student|S", "Tutor": "Tutor|T"}
    pat = (
        r"\s*".join(rf"(?:^|\n|\s)(?:\*\*)?(?:{alias.get(n, n)})(?:\*\*)?\s*:\s*(?P<{n.lower()}>.+?)" for n in names)
        + r"\s*$"
    )
    m = re.search(pat, raw.strip(), flags=re.S | re.I)
    return {k: v.strip() for k, v in m.groupdict().items()} if m else None


def _tool_task(sec: dict, rng: random.Random, catalogue: dict, det: list[dict]) -> tuple[str, dict]:
    heading = (sec.get("heading_path") or [sec.get("chapter") or "this section"])[-1]
    terms = key_terms(sec["text"], limit=5) or [heading]
    low = sec["text"].lower()
    models = [
        (mid, m)
        for mid, m in sorted(catalogue.items())
        if any(re.search(rf"\b{re.escape(k)}\b", low) for k in m.get("keywords", []))
    ]
    tool = rng.choice(["search_textbook", "make_quiz"] + (["show_3d_model"] if models else []))
    n = rng.randint(2, 5)
    title = models[0][1]["title"] if models else ""
    return REQUESTS[tool].format(term=rng.choice(terms), heading=heading, n=n, title=title), {"expected_tool": tool}


def _tool_turns(call: dict, sec: dict, catalogue: dict, det: list[dict]) -> tuple[dict, str]:
    """A plausible tool result and a final answer for a parsed call (errors for invalid calls)."""
    if validate_call(call, catalogue):
        return {"error": "invalid tool call"}, "Sorry, I could not do that."
    a, name = call["arguments"], call["name"]
    heading = (sec.get("heading_path") or [""])[-1]
    if name == "search_textbook":
        snip = next(
            (s for s in sentences(sec["text"]) if a["query"].lower() in s.lower()),
            (sentences(sec["text"]) or [sec["text"][:200]])[0],
        )
        return (
            {
                "results": [
                    {
                        "section_id": sec["section_id"],
                        "heading": heading,
                        "pages": [sec.get("page_start"), sec.get("page_end")],
                        "snippet": snip,
                    }
                ]
            },
            f'Your textbook covers this in "{heading}". It says: "{snip}"',
        )
    if name == "make_quiz":
        qs = [e["messages"][0]["content"] for e in det if e["kind"] in ("definition", "cloze", "why")]
        qs = qs[: a["n_questions"]]
        return (
            {"topic": a["topic"], "questions": [{"question": q} for q in qs]},
            f"Here is your quiz on {a['topic']}:\n" + "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1)),
        )
    m = catalogue[a["model_id"]]
    return (
        {"status": "displayed", "model_id": a["model_id"], "title": m["title"]},
        f"I've opened the 3D model of {m['title']}. What do you notice first?",
    )


def teacher_examples(
    sections: list[dict], det: list[dict], teacher: Any, tcfg: Any, seed: int, catalogue: dict[str, dict]
) -> list[dict]:
    """Prompt the teacher on `tcfg.max_sections` sections (seeded choice) for each task; parse into records."""
    chosen = sorted(sections, key=lambda s: stable_id(seed, "teacher", s["section_id"]))[: tcfg.max_sections]
    det_by_sec: dict[str, list[dict]] = {}
    for e in det:
        det_by_sec.setdefault(e["section_id"], []).append(e)
    jobs: dict[str, list[tuple[dict, list[dict], dict]]] = {}
    for sec in chosen:
        rng = random.Random(int(stable_id(seed, "teacher", sec["section_id"]), 16))
        fields = {
            "subject": sec.get("subject"),
            "heading": (sec.get("heading_path") or [""])[-1],
            "text": sec["text"][: tcfg.max_passage_chars],
            "tools": signatures(catalogue),
        }
        for task in tcfg.tasks:
            if task == "paraphrase":
                src = [e for e in det_by_sec.get(sec["section_id"], []) if e["kind"] in ("definition", "why")]
                if src:
                    e = src[rng.randrange(len(src))]
                    q = e["messages"][0]["content"]
                    jobs.setdefault(task, []).append(
                        (
                            sec,
                            _prompt("teacher.paraphrase", question=q),
                            {"of": e["example_id"], "original_question": q, "answer": e["messages"][-1]["content"]},
                        )
                    )
            elif task == "tool_call":
                request, extra = _tool_task(sec, rng, catalogue, det_by_sec.get(sec["section_id"], []))
                jobs.setdefault(task, []).append(
                    (sec, _prompt("teacher.tool_call", request=request, **fields), {"request": request, **extra})
                )
            elif task in ("qa", "socratic"):
                jobs.setdefault(task, []).append((sec, _prompt(f"teacher.{task}", **fields), {}))
            else:
                raise ValueError(f"unknown teacher task {task!r}; use qa, socratic, tool_call, paraphrase")
    prov = {
        "generator": GENERATOR,
        "backend": tcfg.backend,
        "model": teacher.name,
        "seed": seed,
        "temperature": tcfg.temperature,
        "max_new_tokens": tcfg.max_new_tokens,
    }
    # backends without native tool calling get every prompt in one batched call (the tools are in the prompt)
    # every job is tagged with its task: (task, section, prompt, extra)
    groups: list[tuple[str, list[tuple[str, dict, list[dict], dict]]]] = (
        [(t, [(t, *j) for j in items]) for t, items in jobs.items()]
        if getattr(teacher, "native_tools", False)
        else [("all", [(t, *j) for t, items in jobs.items() for j in items])]
    )
    out = []
    for group, items in groups:
        log.info("teacher %s: %d prompts (%s)", teacher.name, len(items), group)
        raws = teacher.generate(
            [p for _, _, p, _ in items],
            max_new_tokens=tcfg.max_new_tokens,
            temperature=tcfg.temperature,
            seed=seed,
            tools=openai_tools(catalogue) if group == "tool_call" else None,
        )
        for (task, sec, prompt, extra), raw in zip(items, raws, strict=True):
            out.append(_parse(task, raw, sec, prompt, extra, prov, catalogue, det_by_sec.get(sec["section_id"], [])))
    return out


def _parse(
    task: str, raw: str, sec: dict, prompt: list[dict], extra: dict, prov: dict, catalogue: dict, det: list[dict]
) -> dict:
    tid = f"teacher.{task}"
    bad = [{"role": "user", "content": prompt[-1]["content"]}, {"role": "assistant", "content": raw}]
    if task == "qa":
        f = _fields(raw, ["Question", "Answer"])
        if not f:
            return _record(sec, "qa", tid, bad, {"parse_error": "no 'Question: ... Answer: ...' in output"}, prov)
        return _record(
            sec,
            "qa",
            tid,
            [{"role": "user", "content": f["question"]}, {"role": "assistant", "content": f["answer"]}],
            {},
            prov,
        )
    if task == "socratic":
        f = _fields(raw, ["Student", "Tutor", "Answer"])
        if not f:
            return _record(
                sec, "socratic", tid, bad, {"parse_error": "no 'Student: ... Tutor: ... Answer: ...' in output"}, prov
            )
        return _record(
            sec,
            "socratic",
            tid,
            [{"role": "user", "content": f["student"]}, {"role": "assistant", "content": f["tutor"]}],
            {"withheld_answer": f["answer"], "reference_answer": f["answer"], "tutor_turns": 1},
            prov,
        )
    if task == "paraphrase":
        q = (
            re.sub(
                r"^(?:\d+[.)]\s*|(?:rewritten question|question)\s*:\s*)",
                "",
                raw.strip().splitlines()[0] if raw.strip() else "",
                flags=re.I,
            )
            .strip()
            .strip('"')
        )
        meta = {"of": extra["of"], "original_question": extra["original_question"]}
        if not q:
            return _record(sec, "paraphrase", tid, bad, {**meta, "parse_error": "empty paraphrase"}, prov)
        return _record(
            sec,
            "paraphrase",
            tid,
            [{"role": "user", "content": q}, {"role": "assistant", "content": extra["answer"]}],
            meta,
            prov,
        )
    call = parse_call(raw)
    meta = {"request": extra["request"], "expected_tool": extra["expected_tool"]}
    if call is None:
        return _record(sec, "tool_call", tid, bad, {**meta, "parse_error": "no JSON tool call in output"}, prov)
    result, final = _tool_turns(call, sec, catalogue, det)
    msgs = [
        prompt[0],
        {"role": "user", "content": extra["request"]},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": json.dumps(result, ensure_ascii=False, sort_keys=True)},
        {"role": "assistant", "content": final},
    ]
    return _record(sec, "tool_call", tid, msgs, {**meta, "tool": call.get("name")}, prov)
