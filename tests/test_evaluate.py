"""The evaluate stage, its local metric modules and the notebooks, on tiny fixture models
(tests/support/eval_artifacts.py) laid out as the `tiny` profile expects them (artifacts/pretrain/model, ...)."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from stages import evaluate as stage
from tests.support.eval_artifacts import build_artifacts, write_jsonl
from tutorforge.eval import evaluate as ev
from tutorforge.eval import heldout, lmscore
from tutorforge.eval.benchmark import load_benchmark
from tutorforge.eval.choices import choose_option

METRICS = Path(ev.__file__).parent / "metrics"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def load_metric(name: str):
    import evaluate

    return evaluate.load(str(METRICS / name), keep_in_memory=True)


# ---------------------------------------------------------------- metric modules (hand-made cases)


def test_metric_modules_load_offline_from_local_paths():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    for name in ("rouge_l", "bleu", "exact_match", "socratic_rate", "tool_call_validity"):
        module = load_metric(name)
        assert module.name == name
        assert "per_item" in module.compute(predictions=["a b"], references=["a b"])


def test_rouge_l_hand_cases():
    rouge = load_metric("rouge_l")
    res = rouge.compute(
        predictions=["the cat sat", "dogs bark", "", "A B C"],
        references=["the cat sat down", "cats purr", "something", "a b c"],
    )
    # "the cat sat" vs "the cat sat down": LCS 3, P = 3/3, R = 3/4 -> F1 = 6/7
    assert res["per_item"] == pytest.approx([6 / 7, 0.0, 0.0, 1.0])
    assert res["rouge_l"] == pytest.approx((6 / 7 + 1) / 4)
    # order matters (LCS, not bag of words)
    assert rouge.compute(predictions=["sat cat the"], references=["the cat sat"])["rouge_l"] == pytest.approx(1 / 3)


def test_exact_match_normalisation():
    em = load_metric("exact_match")
    res = em.compute(
        predictions=["The Mitochondria.", "an  apple!", "apples", "H2O", "a cell wall"],
        references=["mitochondria", "Apple", "apple", "h2o", "cell   wall"],
    )
    assert res["per_item"] == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert res["exact_match"] == pytest.approx(0.8)


def test_socratic_rate_definition():
    sr = load_metric("socratic_rate")
    ref = "plants make glucose and oxygen"
    cases = [
        ("What do plants need to make their food?", ref, 1.0),  # guiding question, answer not given
        ("What do plants need to make their food", ref, 1.0),  # interrogative word without '?'
        ("Plants make glucose and oxygen.", ref, 0.0),  # states the answer, no question
        ("Is it that plants make glucose and oxygen?", ref, 0.0),  # a question that gives the answer away
        ("Light is important. Think about leaves.", ref, 0.0),  # no question, no answer
        ("Good start. Do plants make glucose?", ref, 1.0),  # covers 3/5 < 0.8 of the reference
        ("Why? Explain.", "", 1.0),  # no hidden reference: never leaks
    ]
    res = sr.compute(predictions=[c[0] for c in cases], references=[c[1] for c in cases])
    assert res["per_item"] == [c[2] for c in cases]
    assert res["socratic_rate"] == pytest.approx(4 / 7)
    assert res["question_rate"] == pytest.approx(5 / 7)
    assert res["answer_leak_rate"] == pytest.approx(2 / 7)
    strict = sr.compute(predictions=["Good start. Do plants make glucose?"], references=[ref], leak_threshold=0.5)
    assert strict["socratic_rate"] == 0.0 and strict["answer_leak_rate"] == 1.0


def test_tool_call_validity():
    tv = load_metric("tool_call_validity")
    preds = [
        '<tool_call>{"name": "calculator", "arguments": {"expression": "12*7"}}</tool_call>',
        'call {"name": "search", "arguments": {"q": "a \\"quoted\\" } brace"}} now',
        '{"name": "calculator", "arguments": "12*7"}',  # arguments must be an object
        '{"name": "calculator", "arguments": {',  # truncated
        '{"tool_calls": [{"function": {"name": "calculator", "arguments": {}}}]}',
        "The answer is 84.",
    ]
    res = tv.compute(predictions=preds, references=["calculator"] * 6)
    assert res["per_item"] == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert res["tool_name_match"] == pytest.approx(2 / 6)


def test_choose_option_selection_logic():
    # (sum NLL, tokens): option 0 is short and likely in total, option 1 long but likelier per token
    scores = [(2.0, 1), (3.0, 6), (9.0, 3)]
    assert choose_option(scores, [5, 30, 12], "none") == 0
    assert choose_option(scores, [5, 30, 12], "tokens") == 1
    assert choose_option(scores, [5, 30, 12], "chars") == 1
    assert choose_option([(1.0, 1), (1.0, 1)], [1, 1], "tokens") == 0  # ties -> first option
    with pytest.raises(ValueError, match="mc_length_norm"):
        choose_option(scores, [1, 1, 1], "words")


@pytest.mark.parametrize(
    ("n", "block", "stride"), [(1, 8, 4), (2, 8, 4), (8, 8, 4), (9, 8, 4), (37, 8, 3), (50, 16, 15)]
)
def test_sliding_windows_score_every_token_once(n, block, stride):
    ids = list(range(100, 100 + n))
    windows = lmscore.sliding_windows(ids, block, stride)
    scored = [w[i] for w, m in windows for i, flag in enumerate(m) if flag]
    assert scored == ids[1:]  # each token but the first, exactly once, in order
    assert all(len(w) <= block and len(w) == len(m) for w, m in windows)
    for k, (w, m) in enumerate(windows):  # later windows keep >= block - stride tokens of context
        first = m.index(True)
        assert k == 0 or first >= min(block - stride, len(w) - 1)


def test_sliding_windows_rejects_bad_stride():
    with pytest.raises(ValueError, match="stride"):
        lmscore.sliding_windows([1, 2, 3], 4, 4)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evaluate.mc_length_norm=words", "evaluate.mc_length_norm"),
        ("evaluate.stride=256", "evaluate.stride"),
        ("evaluate.batch_size=0", "evaluate.batch_size"),
        ("evaluate.socratic_leak_threshold=1.5", "evaluate.socratic_leak_threshold"),
        ("evaluate.candidate=finetuned", "evaluate.candidate"),
        ("evaluate.models.sft=null", "evaluate.candidate"),
        ("evaluate.models.delta={path: x}", "evaluate.models"),
        ("evaluate.models.sft.tokenizr=x", "evaluate.models.sft.tokenizr"),
        ("evaluate.bench_max_items.essay=3", "evaluate.bench_max_items"),
        ("evaluate.profile=huge", "evaluate.profile"),
    ],
)
def test_config_refuses_bad_values_on_load(tmp_path, override, key):
    from tutorforge.core.config import ParamsError, load_config

    params = tmp_path / "params.yaml"
    params.write_text(
        "evaluate: {block_size: 256, models: {untuned: {path: smollm2}, sft: {path: artifacts/sft/merged}}}\n"
    )
    assert load_config(ev.EvaluateConfig, path=params).stride == 128
    with pytest.raises(ParamsError, match=key):
        load_config(ev.EvaluateConfig, path=params, overrides=[override])


# ---------------------------------------------------------------- tiny models: scoring, stage run, determinism


SHRINK = [  # -S overrides on top of the shipped params.yaml: the tiny profile, a few items of each kind
    "evaluate.profile=tiny",
    "evaluate.bench_max_items={short_answer: 4, mc: 8, socratic: 4, tools: 4, grounded: 2}",
    "evaluate.mmlu_max_per_subject=2",
    "evaluate.max_new_tokens=24",
    "evaluate.block_size=64",
    "evaluate.stride=32",
    "evaluate.torch_threads=1",
    "evaluate.report_samples=2",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project dir: the shipped params.yaml, the frozen benchmark, fixture models under artifacts/ (as the tiny
    profile names them) and teachers' labels for the fixture sections. Tests run the stage from inside it."""
    proj = tmp_path_factory.mktemp("eval-project")
    build_artifacts(proj / "artifacts")
    shutil.copy(ROOT / "params.yaml", proj / "params.yaml")
    (proj / "data").mkdir()
    (proj / "data" / "benchmarks").symlink_to(ROOT / "data" / "benchmarks")
    sections = [json.loads(x) for x in (proj / "artifacts/segment/sections.jsonl").read_text().splitlines()]
    full = {
        "level": 1,
        "subject_confidence": 1.0,
        "subject_source": "map",
        "method": "outline",
        "part": 1,
        "n_parts": 1,
    }
    sections = [s | full | {"n_chars": len(s["text"])} for s in sections]  # the segment stage's section contract
    write_jsonl(proj / "artifacts/segment/sections.jsonl", sections)
    labels = [{"section_id": s["section_id"], "subject": s["subject"]} for s in sections]
    write_jsonl(proj / "artifacts/annotations/labels.jsonl", [*labels, {"section_id": "gone", "subject": "biology"}])
    return proj


@pytest.fixture(scope="module")
def arts(project) -> Path:
    return project / "artifacts"


def run_stage(project: Path, *overrides: str) -> int:
    cwd = os.getcwd()
    os.chdir(project)  # the tiny profile's paths are relative to the project root, as under `dvc repro`
    try:
        return stage.main(["-p", "params.yaml", *[a for o in [*SHRINK, *overrides] for a in ("-S", o)]])
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def stage_out(project) -> Path:
    assert run_stage(project) == 0
    return project / "artifacts" / "evaluate"


def test_perplexity_equals_exp_mean_nll_computed_independently(arts):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(arts / "tokenizer")
    model = AutoModelForCausalLM.from_pretrained(arts / "pretrain" / "model", dtype=torch.float32)
    texts = ["Cells are the basic units of life.", "Acids and bases react to form salts and water. " * 3, "A triangle."]
    seqs = [[tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    scored = lmscore.score_sequences(model, [(s, [True] * len(s)) for s in seqs], batch_size=3, pad_id=tok.pad_token_id)
    with torch.no_grad():  # HF's own mean loss, one unpadded sequence at a time
        ref = [float(model(input_ids=torch.tensor([s]), labels=torch.tensor([s])).loss) for s in seqs]
    for (nll, n), s, mean in zip(scored, seqs, ref, strict=True):
        assert n == len(s) - 1
        assert nll / n == pytest.approx(mean, rel=1e-4)
    total = sum(nll for nll, _ in scored) / sum(n for _, n in scored)
    expected = sum(m * (len(s) - 1) for m, s in zip(ref, seqs, strict=True)) / sum(len(s) - 1 for s in seqs)
    assert math.exp(total) == pytest.approx(math.exp(expected), rel=1e-4)
    # sliding windows with full context reproduce the single-pass NLL of a long sequence
    long = seqs[1]
    windows = lmscore.sliding_windows(long, block_size=len(long) + 1, stride=4)
    assert len(windows) == 1
    nll, n = lmscore.score_sequences(model, windows, pad_id=tok.pad_token_id)[0]
    assert nll / n == pytest.approx(ref[1], rel=1e-4)


def test_options_sharing_a_prompt_score_as_if_each_ran_alone(arts):
    """score_sequences runs a shared prompt once and its options on the KV cache: each option's NLL must equal that
    option scored alone, in one unpadded forward, and items without a shared prompt must be unaffected."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(arts / "tokenizer")
    model = AutoModelForCausalLM.from_pretrained(arts / "pretrain" / "model", dtype=torch.float32)
    enc = lambda t: tok(t, add_special_tokens=False)["input_ids"]  # noqa: E731
    q1, q2 = enc("Question: Which organelle releases energy?\nAnswer:"), enc("Question: What is 3 x 4?\nAnswer:")
    items = [
        (q1 + enc(f" {o}"), [False] * len(q1) + [True] * len(enc(f" {o}"))) for o in ("mitochondria", "the cell wall")
    ]
    items += [(q2 + enc(" twelve"), [False] * len(q2) + [True] * len(enc(" twelve")))]  # a prompt of its own
    items += [(q2 + enc(" 12 exactly"), [False] * (len(q2) + 1) + [True] * (len(enc(" 12 exactly")) - 1))]  # no share
    items += [(q1 + enc(" a ribosome, maybe"), [False] * len(q1) + [True] * len(enc(" a ribosome, maybe")))]
    shared = {tuple(s[: m.index(True)]) for s, m in items}
    assert len(shared) == 3  # q1 (3 options) is a group; the q2 items have different unscored prefixes

    def alone(seq: list[int], mask: list[bool]) -> tuple[float, int]:
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([seq])).logits[0, :-1], -1)
        picked = logp.gather(-1, torch.tensor(seq[1:]).unsqueeze(-1)).squeeze(-1)
        return -float(sum(x for x, keep in zip(picked.tolist(), mask[1:], strict=True) if keep)), sum(mask[1:])

    got = lmscore.score_sequences(model, items, batch_size=2, pad_id=tok.pad_token_id)
    for (nll, n), (seq, mask) in zip(got, items, strict=True):
        want_nll, want_n = alone(seq, mask)
        assert n == want_n and nll == pytest.approx(want_nll, rel=1e-4, abs=1e-4)
    assert got[0] != got[1]  # different options, different scores (the cache is not served to the wrong row)


def test_chat_prompt_answer_and_stop_tokens_follow_the_chat_template(arts):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(arts / "tokenizer")
    msgs = [{"role": "user", "content": "What is the unit of force?"}, {"role": "assistant", "content": "The newton."}]
    prompt, answer = lmscore.chat_prompt_answer(tok, msgs)
    assert prompt.endswith("<|assistant|>\n") and "The newton" not in prompt
    assert answer == "The newton.<|end|>"  # exactly the trained {% generation %} span
    assert prompt + answer + "\n" == tok.apply_chat_template(msgs, tokenize=False)
    vocab = tok.get_vocab()
    assert lmscore.stop_token_ids(tok) == sorted({vocab["<|end|>"], tok.eos_token_id})
    call = {"role": "assistant", "content": "", "tool_calls": [{"name": "calculator", "arguments": {"x": "1"}}]}
    _, answer = lmscore.chat_prompt_answer(tok, [msgs[0], call])
    assert answer.startswith("<|tool_call|>{") and answer.endswith("<|end|>")
    with pytest.raises(ValueError, match="assistant"):
        lmscore.chat_prompt_answer(tok, msgs[:1])


def test_tiny_profile_end_to_end_writes_benchmark_metrics_and_side_by_side_report(stage_out):
    metrics = json.loads((stage_out / "metrics.json").read_text())
    bench = load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1")
    assert metrics["benchmark"] == {"name": "tutor", "version": "v1", "digest": bench.digest}
    assert {"untuned", "sft", "delta", "per_subject", "counts", "answer_loss_reduction"} <= set(metrics)
    bench_keys = {"answer_loss", "socratic_reply_loss", "rouge_l", "bleu", "mc_accuracy", "socratic_rate",
                  "question_rate", "leak_rate", "tool_call_accuracy", "tool_name_accuracy", "tool_schema_valid_rate",
                  "model_id_accuracy"}  # fmt: skip
    # tool requests are decoded under the tool-call grammar too (guided_tool_calls): free replies reported beside them
    bench_keys |= {"tool_call_accuracy_unguided", "tool_schema_valid_rate_unguided", "model_id_accuracy_unguided"}
    for model in ("untuned", "sft"):
        m = metrics[model]
        assert bench_keys <= set(m["bench"]) and bench_keys <= set(metrics["delta"]["bench"])
        assert set(m["mmlu"]) == {"biology", "chemistry", "physics", "mathematics", "overall"}
        assert set(m["subject_cls"]) == {"top1", "top3"} and m["subject_cls"]["top1"] <= m["subject_cls"]["top3"]
        assert {"perplexity", "answer_loss", "mc_accuracy", "rouge_l", "socratic_rate"} <= set(m["heldout"])
    counts = metrics["counts"]
    assert (counts["bench_short_answer_items"], counts["bench_mc_items"], counts["bench_tools_items"]) == (4, 8, 4)
    # loss is scored on every reference (bench_loss_all), generation only on the sample
    n_answers = len(bench.items("short_answer")) + len(bench.items("grounded"))
    assert (counts["bench_answer_loss_items"], counts["bench_socratic_reply_loss_items"]) == (
        n_answers,
        len(bench.items("socratic")),
    )
    assert counts["mmlu_items"] == 8 and counts["subject_items"] == 4
    # item by item: the discordant counts explain the accuracy delta exactly (sft - untuned = (c - b) / items)
    paired = metrics["paired"]
    assert set(paired) == {"bench.mc_accuracy", "bench.socratic_rate", "bench.tool_call_accuracy"}
    for metric, p in paired.items():
        assert p["items"] == p["both"] + p["neither"] + p["baseline_only"] + p["candidate_only"] > 0
        delta = (p["candidate_only"] - p["baseline_only"]) / p["items"]
        assert delta == pytest.approx(metrics["delta"]["bench"][metric.split(".")[1]], abs=1e-5)
        assert 0 < p["p_value"] <= 1
    assert "Item by item" in (stage_out / "report.md").read_text()

    def leaves(d):
        for v in d.values():
            yield from leaves(v) if isinstance(v, dict) else [v]

    numbers = {k: v for k, v in metrics.items() if k != "benchmark"}  # the benchmark identity holds strings
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in leaves(numbers))
    b, s = metrics["untuned"]["heldout"], metrics["sft"]["heldout"]
    assert metrics["answer_loss_reduction"] == pytest.approx(1 - s["answer_loss"] / b["answer_loss"], abs=1e-5)
    assert metrics["delta"]["bench"]["bleu"] == pytest.approx(
        metrics["sft"]["bench"]["bleu"] - metrics["untuned"]["bench"]["bleu"], abs=1e-5
    )
    # the "SFT" fixture model was overfitted on the held-out conversations: it must win there
    assert s["answer_loss"] < b["answer_loss"] and metrics["answer_loss_reduction"] > 0.5
    assert s["rouge_l"] > 0.9 > b["rouge_l"] and s["mc_accuracy"] == 1.0
    assert s["socratic_rate"] == 1.0 and s["tool_call_validity"] == 1.0
    assert set(metrics["per_subject"]) == {"biology", "chemistry", "physics", "mathematics"}
    assert all({"untuned", "sft"} <= set(row) for row in metrics["per_subject"].values())
    perf = json.loads((stage_out / "perf.json").read_text())
    for model in ("untuned", "sft"):
        assert {"latency_p50_s", "latency_p95_s", "tokens_per_s", "peak_rss_mib"} <= set(perf[model])
        assert perf[model]["peak_rss_mib"] > 50
    assert not {"latency_p50_s", "peak_rss_mib", "eval_seconds"} & set(json.dumps(metrics).split('"'))
    loss = json.loads((stage_out / "plots" / "loss_curves.json").read_text())
    assert {r["stage"] for r in loss} == {"pretrain", "sft"}
    steps = [r["global_step"] for r in loss]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # sft continues after pretrain
    bars = json.loads((stage_out / "plots" / "per_subject.json").read_text())
    assert len(bars) == 8 and len({frozenset(r) for r in bars}) == 1 and "answer_loss" in bars[0]
    samples = [json.loads(x) for x in (stage_out / "samples.jsonl").read_text().splitlines()]
    assert {x["kind"] for x in samples} == {"short_answer", "mc", "socratic", "tools", "grounded"}
    assert all(set(x["answers"]) == {"untuned", "sft"} for x in samples)
    tools = [x for x in samples if x["kind"] == "tools"]  # the guided reply is the answer, the free one beside it
    assert tools and all(set(x["unguided"]) == {"untuned", "sft"} for x in tools)
    report = (stage_out / "report.md").read_text()
    assert bench.digest in report and "| metric | untuned | sft | delta (sft - untuned) |" in report
    assert "| bench.answer_loss |" in report and "| mmlu.overall |" in report and "| subject_cls.top3 |" in report
    for kind in ("short_answer", "mc", "socratic", "tools", "grounded"):
        section = report.split(f"### {kind}\n", 1)[1].split("###", 1)[0]
        assert "| id | prompt | reference | untuned | sft |" in section
        shown = [x for x in samples if x["kind"] == kind][:2]
        assert len(shown) == 2 and all(f"| {x['id']} |" in section for x in shown)


def test_stage_is_deterministic(project, stage_out, tmp_path):
    assert run_stage(project, f"evaluate.output_dir={tmp_path / 'again'}") == 0
    for rel in (
        "metrics.json",
        "samples.jsonl",
        "plots/loss_curves.json",
        "plots/eval_loss_curves.json",
        "plots/per_subject.json",
    ):
        assert (tmp_path / "again" / rel).read_bytes() == (stage_out / rel).read_bytes(), rel
    strip = lambda t: t.split("## Speed")[0] + t.split("## Per subject")[1]  # noqa: E731 (wall-clock table)
    assert strip((tmp_path / "again" / "report.md").read_text()) == strip((stage_out / "report.md").read_text())


def test_bad_input_fails_clearly_and_keeps_previous_outputs(project, stage_out, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(stage_out, out)
    before = (out / "metrics.json").read_bytes()
    capsys.readouterr()
    assert run_stage(project, f"evaluate.output_dir={out}", "evaluate.split=nosuchsplit") == 1
    err = capsys.readouterr().err
    assert "no held-out split" in err and "nosuchsplit" in err
    assert run_stage(project, f"evaluate.output_dir={out}", f"evaluate.benchmark={tmp_path}") == 1
    assert f"{tmp_path}/manifest.json: missing (not a benchmark folder)" in capsys.readouterr().err
    edited = tmp_path / "tutor-v1"
    shutil.copytree(ROOT / "data" / "benchmarks" / "tutor-v1", edited)
    with (edited / "mc.jsonl").open("a") as f:
        f.write("\n")
    assert run_stage(project, f"evaluate.output_dir={out}", f"evaluate.benchmark={edited}") == 1
    assert "edited in place" in capsys.readouterr().err
    assert (
        run_stage(project, f"evaluate.output_dir={out}", "evaluate.profiles.tiny.models.sft.path=artifacts/nothing")
        == 1
    )
    assert "evaluate.models.sft.path: artifacts/nothing does not exist" in capsys.readouterr().err
    assert run_stage(project, f"evaluate.output_dir={out}", f"evaluate.mmlu_path={tmp_path / 'no.jsonl'}") == 1
    assert "evaluate.mmlu_path" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before
    bad = tmp_path / "params.yaml"
    bad.write_text("evaluate: {max_new_tokns: 3}\n")
    assert stage.main(["-p", str(bad)]) == 2
    assert "evaluate.max_new_tokns" in capsys.readouterr().err


def test_labels_missing_skips_subject_classification_with_a_note(project, tmp_path):
    out = tmp_path / "nolabels"
    assert run_stage(project, f"evaluate.output_dir={out}", f"evaluate.labels={tmp_path / 'none.jsonl'}",
                     "evaluate.heldout=false", "evaluate.mmlu_max_per_subject=0") == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert "subject_cls" not in metrics["sft"] and "heldout" not in metrics["sft"] and "mmlu" not in metrics["sft"]
    assert metrics["notes"] == [f"subject classification skipped: no teachers' labels at {tmp_path / 'none.jsonl'}"]
    assert "Note: subject classification skipped" in (out / "report.md").read_text()


# ---------------------------------------------------------------- notebooks run against the fixture artifacts


@pytest.mark.parametrize("name", ["evaluation_report.ipynb", "data_exploration.ipynb"])
def test_notebook_runs_on_fixture_artifacts(name, arts, stage_out, monkeypatch):
    import nbclient
    import nbformat

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code"), (
        "commit notebooks with outputs cleared"
    )
    monkeypatch.setenv("ARTIFACTS", str(arts))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend renders the figures
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS.parent)}}
    ).execute()
    text = "\n".join(o.get("text", "") + json.dumps(o.get("data", {})) for c in nb.cells for o in c.get("outputs", []))
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert "biology" in text and "error" not in {o.get("output_type") for o in outputs}
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots were drawn


def test_tool_call_dialogues_are_cut_at_the_first_call(arts):
    """Synth's tool dialogues go on after the call (tool result, final answer): the task asks for the call itself."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(arts / "tokenizer")
    call = {"name": "show_3d_model", "arguments": {"model_id": "animal_cell"}}
    example = {
        "kind": "tool_call",
        "subject": "biology",
        "example_id": "t1",
        "messages": [
            {"role": "user", "content": "Can I see a 3D model of an animal cell?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": '{"shown": "animal_cell"}'},
            {"role": "assistant", "content": "Here it is: look for the nucleus."},
        ],
    }
    cfg = ev.EvaluateConfig()
    tasks = heldout.build_tasks(cfg, tok, [], [example], max_len=256)
    [task] = [t for t in tasks["gen"] if t["group"] == "tool"]
    assert task["reference"] == "show_3d_model"
    assert "animal cell" in task["prompt"] and "animal_cell" not in task["prompt"]
    assert task["prompt"].endswith("<|assistant|>\n")
