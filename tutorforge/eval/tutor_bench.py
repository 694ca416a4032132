"""One model on the frozen tutor benchmark (data/benchmarks/tutor-v1): the tasks to score and generate, and the
metrics from their results. Scoring rules follow the benchmark's README; what is judged how:

    tasks = bench_tasks(cfg, tok, load_benchmark("data/benchmarks/tutor-v1"), max_len=2048)
    # {"loss": [...], "mc": [...], "gen": [...]} token sequences / chat prompts, the same for every model sharing tok
    bench_metrics(tasks, raw, cfg, mods)
    # {"answer_loss": 2.41, "socratic_reply_loss": 2.9, "rouge_l": 0.21, "bleu": 4.3, "mc_accuracy": 0.35,
    #  "socratic_rate": 0.5, "question_rate": 0.75, "leak_rate": 0.25, "tool_call_accuracy": 0.25,
    #  "tool_name_accuracy": 0.5, "tool_schema_valid_rate": 0.38, "model_id_accuracy": 0.17}

  answer_loss          token-weighted mean NLL of the reference answer (short_answer + grounded) after the
                       chat-formatted question (tutor system prompt + question), end-of-turn included; over every
                       item of those kinds when `bench_loss_all` (a forward pass each), else over the sample
  socratic_reply_loss  the same for the Socratic items' reference_reply after the student's turn
  rouge_l, bleu        of greedy answers to short_answer + grounded questions vs the references (bleu: 0-100)
  mc_accuracy          the question with options lettered A-D; each option's text scored as the answer
                       (`bench_mc_answer: letter`: "<L>. <option>", where the letter's prior decides)
  socratic_*           the first reply to the student's turn (socratic.judge_reply)
  tool_*, model_id_accuracy  the reply to the request under the tool system prompt (toolcalls.judge_call); with
                       `guided_tool_calls` the reply decoded under the tool-call grammar, and tool_*_unguided the
                       free reply of the same model
Generated items are a seeded sample of at most `bench_max_items[kind]` per kind (all of them when the cap is larger).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tutorforge.core.records import mc_prompt, mc_reply
from tutorforge.eval.benchmark import KINDS, Benchmark
from tutorforge.eval.choices import accuracy, pick, rank_options
from tutorforge.eval.socratic import judge_reply, socratic_scores
from tutorforge.eval.toolcalls import judge_call, tool_scores
from tutorforge.tools.specs import DEFAULT_CATALOGUE, signatures

if TYPE_CHECKING:
    from tutorforge.eval.evaluate import EvaluateConfig

ANSWER_KINDS = ("short_answer", "grounded")


def mc_question(item: dict[str, Any]) -> str:
    """The MC prompt as the README fixes it: the question, then the options lettered A-D in stored order."""
    return mc_prompt(item["question"], list(item["options"]))


def item_messages(cfg: EvaluateConfig, kind: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation a model is given for an item (before its reply)."""
    if kind == "tools":  # the tool list as synth's tool dialogues give it
        system = f"{cfg.tool_system_prompt}\n{signatures(DEFAULT_CATALOGUE)}"
        return [{"role": "system", "content": system}, {"role": "user", "content": item["request"]}]
    user = {"socratic": item.get("student"), "mc": mc_question(item) if kind == "mc" else None}.get(kind)
    prompt = cfg.socratic_system_prompt if kind == "socratic" else cfg.system_prompt
    msgs = [{"role": "system", "content": prompt}] if prompt else []
    return msgs + [{"role": "user", "content": user or item["question"]}]


def bench_tasks(cfg: EvaluateConfig, tok: Any, bench: Benchmark, max_len: int) -> dict[str, list[dict[str, Any]]]:
    """Everything one tokenizer's models are asked on the benchmark (model-independent, built once)."""
    from tutorforge.eval.lmscore import chat_prompt_answer, encode, fit, render_chat

    def scored(msgs: list[dict[str, Any]], answer: str) -> tuple[list[int], list[bool]]:
        prompt, ans = chat_prompt_answer(tok, [*msgs, {"role": "assistant", "content": answer}])
        return fit(encode(tok, prompt), encode(tok, ans), max_len)

    def loss_task(kind: str, item: dict[str, Any]) -> dict[str, Any]:  # the reference answer / reply, scored by loss
        reference = item["reference_reply"] if kind == "socratic" else item["reference"]
        group = "socratic_reply_loss" if kind == "socratic" else "answer_loss"
        head = {"kind": kind, "id": item["id"], "subject": item["subject"]}
        return head | {"group": group, "seq": scored(item_messages(cfg, kind, item), reference)}

    tasks: dict[str, list[dict[str, Any]]] = {"loss": [], "mc": [], "gen": []}
    for kind in KINDS:
        sample = pick(bench.items(kind), cfg.bench_max_items.get(kind, 0), cfg.seed, f"bench:{kind}")
        if cfg.bench_loss_all and kind in (*ANSWER_KINDS, "socratic"):  # one forward pass per item: score them all
            sampled = {item["id"] for item in sample}
            tasks["loss"] += [loss_task(kind, item) for item in bench.items(kind) if item["id"] not in sampled]
        for item in sample:
            msgs = item_messages(cfg, kind, item)
            head = {"kind": kind, "id": item["id"], "subject": item["subject"]}
            if kind == "mc":
                labels = [mc_reply(list(item["options"]), i) for i in range(len(item["options"]))]  # "B. <option>"
                answers = labels if cfg.bench_mc_answer == "letter" else list(item["options"])
                opts = [scored(msgs, a) for a in answers]
                tasks["mc"].append(
                    head
                    | {
                        "answer": item["answer"],
                        "options": opts,
                        "char_lens": list(map(len, answers)),
                        "labels": labels,
                        "question": mc_question(item),
                    }  # fmt: skip
                )
                continue
            if kind in ANSWER_KINDS or kind == "socratic":
                tasks["loss"].append(loss_task(kind, item))
            prompt = render_chat(tok, msgs, add_generation_prompt=True)
            tasks["gen"].append(head | {"item": item, "prompt": prompt, "question": msgs[-1]["content"]})
    return tasks


def reference_of(task: dict[str, Any]) -> str:
    """What a generated reply is shown beside in the report: the reference answer / reply / expected call."""
    item = task["item"]
    if task["kind"] == "tools":
        return (
            f"{item['expected']['name']}({', '.join(f'{k}={v!r}' for k, v in item['expected']['arguments'].items())})"
        )
    return item.get("reference") or item.get("reference_reply") or ""


def bench_metrics(
    tasks: dict[str, list[dict[str, Any]]],
    raw: dict[str, list[Any]],
    cfg: EvaluateConfig,
    mods: dict[str, Any],
    keep: Any = lambda t: True,
) -> dict[str, float]:
    """The benchmark metrics over the tasks `keep` selects (all, or one subject); absent tasks -> absent keys.
    raw: {"loss": [(nll, n)], "mc": [(nll, n)] per option in order, "gen": [{"text", ...}]} from one model, and
    optionally "gen_guided": the tools items' replies under the tool-call grammar, in task order."""
    out: dict[str, float] = {}
    for group in ("answer_loss", "socratic_reply_loss"):
        pairs = [r for t, r in zip(tasks["loss"], raw["loss"], strict=True) if t["group"] == group and keep(t)]
        if sum(n for _, n in pairs):
            out[group] = sum(x for x, _ in pairs) / sum(n for _, n in pairs)
    if (acc := accuracy(list(_mc_hits(tasks, raw, cfg, keep).values()))) is not None:
        out["mc_accuracy"] = acc
    gen = [(t, r["text"]) for t, r in zip(tasks["gen"], raw["gen"], strict=True) if keep(t)]
    answers = [(text, t["item"]["reference"]) for t, text in gen if t["kind"] in ANSWER_KINDS]
    if answers:
        preds, refs = [a for a, _ in answers], [r for _, r in answers]
        out["rouge_l"] = mods["rouge_l"].compute(predictions=preds, references=refs, use_stemmer=cfg.rouge_stemmer)[
            "rouge_l"
        ]
        out["bleu"] = mods["bleu"].compute(predictions=preds, references=refs)["bleu"]
    out |= socratic_scores(list(_verdicts(tasks, raw, cfg, keep, "socratic").values()))
    free = list(_verdicts(tasks, raw, cfg, keep, "tools").values())
    if "gen_guided" in raw:  # tool requests also decoded under the tool-call grammar: those are the headline
        guided = list(_guided_calls(tasks, raw, keep).values())
        out |= tool_scores(guided) | {f"{k}_unguided": v for k, v in tool_scores(free).items()}
    else:
        out |= tool_scores(free)
    return {k: round(float(v), 6) for k, v in out.items()}


def _mc_hits(tasks: dict[str, list[dict[str, Any]]], raw: dict[str, list[Any]], cfg: EvaluateConfig, keep: Any) -> dict:
    """{item id: the option ranked first is the answer} over the MC tasks `keep` selects."""
    scores, hits = iter(raw["mc"]), {}
    for t in tasks["mc"]:
        ranked = rank_options([next(scores) for _ in t["options"]], t["char_lens"], cfg.mc_length_norm)
        if keep(t):
            hits[t["id"]] = ranked[0] == t["answer"]
    return hits


def _every(task: dict[str, Any]) -> bool:
    return True


def _verdicts(
    tasks: dict[str, list[dict[str, Any]]], raw: dict[str, list[Any]], cfg: EvaluateConfig, keep: Any, kind: str
) -> dict:
    """{item id: verdict} on the free replies to the `kind` items `keep` selects: socratic.judge_reply (socratic) or
    toolcalls.judge_call (tools)."""
    out = {}
    for t, r in zip(tasks["gen"], raw["gen"], strict=True):
        if t["kind"] == kind and keep(t):
            item = t["item"]
            out[t["id"]] = (
                judge_reply(r["text"], item, cfg.socratic_leak_threshold)
                if kind == "socratic"
                else judge_call(r["text"], item)
            )
    return out


def _guided_calls(tasks: dict[str, list[dict[str, Any]]], raw: dict[str, list[Any]], keep: Any) -> dict:
    """{item id: judge_call verdict} of the tool requests decoded under the tool-call grammar."""
    tools = [t for t in tasks["gen"] if t["kind"] == "tools"]
    return {t["id"]: judge_call(r["text"], t["item"]) for t, r in zip(tools, raw["gen_guided"], strict=True) if keep(t)}


def item_outcomes(tasks: dict[str, list[dict[str, Any]]], raw: dict[str, list[Any]], cfg: EvaluateConfig) -> dict:
    """Per item, right or wrong, for the benchmark's accuracy-like metrics (as bench_metrics judges them):
    {"mc_accuracy": {id: bool}, "socratic_rate": {id: bool}, "tool_call_accuracy": {id: bool}} (paired.paired_test)."""
    socratic = _verdicts(tasks, raw, cfg, _every, "socratic")
    calls = _guided_calls(tasks, raw, _every) if "gen_guided" in raw else _verdicts(tasks, raw, cfg, _every, "tools")
    out = {
        "mc_accuracy": _mc_hits(tasks, raw, cfg, _every),
        "socratic_rate": {i: bool(v["passes"]) for i, v in socratic.items()},
        "tool_call_accuracy": {i: bool(v["correct"]) for i, v in calls.items()},
    }
    return {k: v for k, v in out.items() if v}


def bench_counts(tasks: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Items generated or ranked per benchmark kind, and items whose reference answer/reply is scored by loss."""
    ids = {t["id"]: t["kind"] for group in ("mc", "gen") for t in tasks[group]}
    loss = {t["group"]: 0 for t in tasks["loss"]}
    for t in tasks["loss"]:
        loss[t["group"]] += 1
    return {f"bench_{k}_items": sum(v == k for v in ids.values()) for k in KINDS} | {
        f"bench_{g}_items": n for g, n in sorted(loss.items())
    }
