"""SFT stage: assistant-only labels, packing without cross-attention, LoRA / QLoRA runs, interrupt + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stages.sft import main, run
from tutorforge.core.config import ParamsError, load_config
from tutorforge.core.io import read_json, read_jsonl, write_jsonl
from tutorforge.training.sft import SFTConfig
from tutorforge.training.sft_data import IGNORE_INDEX, encode_example, encode_texts, pack_bins, pack_examples
from tutorforge.training.tiny import CHAT_TEMPLATE, PLAIN_TEMPLATE, make_model, make_records, make_tokenizer

TOOL_RECORD = make_records(3)[2]  # system, user, assistant(tool call), tool, assistant


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sft")
    tok = make_tokenizer(d / "tok")
    make_model(tok, d / "model")
    write_jsonl(d / "train.jsonl", make_records(48, seed=1))
    write_jsonl(d / "val.jsonl", make_records(12, seed=2))
    return d


def write_params(fx: Path, out: Path, **over: object) -> Path:
    sft = {
        "mode": "lora",
        "base_model": str(fx / "model"),
        "tokenizer": str(fx / "tok"),
        "train": str(fx / "train.jsonl"),
        "validation": str(fx / "val.jsonl"),
        "text": "",
        "output": str(out),
        "max_length": 128,
        "batch_size": 4,
        "epochs": 100,
        "max_steps": 12,
        "eval_steps": 6,
        "save_steps": 6,
        "logging_steps": 2,
        "learning_rate": 5e-3,
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        **over,
    }
    path = out.parent / f"{out.name}-params.yaml"
    path.write_text(yaml.safe_dump({"seed": 7, "sft": sft}))
    return path


def train(params: Path, *overrides: str) -> dict:
    """Run the stage in-process as `python -m stages.sft -p params` would; returns its report."""
    return run(load_config(SFTConfig, "sft", params, list(overrides)))


def labelled_spans(tok, ex: dict) -> tuple[list[str], str]:  # noqa: ANN001
    """Decoded runs of labelled tokens, and the decoded unlabelled text."""
    spans, cur, rest = [], [], []
    for t, lab in zip(ex["input_ids"], ex["labels"], strict=True):
        if lab == IGNORE_INDEX:
            rest.append(t)
            if cur:
                spans.append(tok.decode(cur))
                cur = []
        else:
            assert lab == t
            cur.append(t)
    if cur:
        spans.append(tok.decode(cur))
    return spans, tok.decode(rest)


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, PLAIN_TEMPLATE], ids=["generation-markers", "prefix-rendering"])
def test_assistant_only_labels(template: str) -> None:
    tok = make_tokenizer(template=template)
    [ex] = encode_example(tok, TOOL_RECORD["messages"], max_length=512)
    spans, rest = labelled_spans(tok, ex)
    call = TOOL_RECORD["messages"][2]["tool_calls"][0]
    answer = TOOL_RECORD["messages"][4]["content"]
    assert len(spans) == 2
    # the tool call (rendered by the template, or appended as JSON when the template can't render tool_calls)
    assert (
        spans[0].startswith("<tool_call>")
        and json.loads(spans[0].split("<tool_call>")[1].split("</tool_call>")[0]) == call
    )
    assert spans[1].startswith(answer) and "<|im_end|>" in spans[1]  # the answer and its end-of-turn token
    for m in TOOL_RECORD["messages"]:
        if m["role"] in {"system", "user", "tool"}:
            assert m["content"] in rest  # prompts and tool results are context, not targets
    assert "<|im_start|>assistant" in rest  # the role header is context too


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, PLAIN_TEMPLATE], ids=["generation-markers", "prefix-rendering"])
def test_long_dialogue_gives_one_window_per_assistant_turn(template: str) -> None:
    tok = make_tokenizer(template=template)
    msgs = [dict(m) for m in TOOL_RECORD["messages"]]
    msgs[3]["content"] = " ".join([msgs[3]["content"]] * 12)  # a long tool result pushes the final answer past the cut
    [whole] = encode_example(tok, msgs, max_length=4096)
    turns = labelled_spans(tok, whole)[0]
    n = len(whole["input_ids"])
    max_length = n // 2
    windows = encode_example(tok, msgs, max_length=max_length)
    assert len(windows) == 2 and all(len(w["input_ids"]) <= max_length for w in windows)
    for window, turn in zip(windows, turns, strict=True):
        assert labelled_spans(tok, window)[0] == [turn]  # each window supervises exactly its own turn...
        labelled = [i for i, lab in enumerate(window["labels"]) if lab != IGNORE_INDEX]
        assert labelled[-1] == len(window["input_ids"]) - 1  # ...ends with it, context cut from the left
    end = max(i for i, lab in enumerate(whole["labels"]) if lab != IGNORE_INDEX) + 1  # the final answer's last token
    assert windows[1]["input_ids"] == whole["input_ids"][end - max_length : end]
    assert len(windows[1]["input_ids"]) == max_length
    # truncation="right" keeps the head only: the final answer is gone
    [head] = encode_example(tok, msgs, max_length=max_length, truncation="right")
    assert head["input_ids"] == whole["input_ids"][:max_length]
    assert labelled_spans(tok, head)[0] == [turns[0]]
    with pytest.raises(ValueError, match="truncation"):
        encode_example(tok, msgs, max_length=max_length, truncation="middle")


def test_truncation_and_packing_layout() -> None:
    tok = make_tokenizer()
    exs = [w for r in make_records(9) for w in encode_example(tok, r["messages"], max_length=40)]
    assert all(len(e["input_ids"]) <= 40 for e in exs) and len(exs) > 9  # long dialogues split per turn
    lengths = [len(e["input_ids"]) for e in encode_examples(tok, 9)]
    bins = pack_bins(lengths, 128)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 128 for b in bins)
    assert len(bins) < len(lengths)  # short examples do share rows
    rows = pack_examples(encode_examples(tok, 9), 128)
    for r in rows:
        starts = [i for i, p in enumerate(r["position_ids"]) if p == 0]
        assert starts[0] == 0 and len(r["input_ids"]) == len(r["labels"]) == len(r["position_ids"])


def encode_examples(tok, n: int) -> list[dict]:  # noqa: ANN001
    return [w for r in make_records(n) for w in encode_example(tok, r["messages"], max_length=128)]


def test_text_windows_cover_the_text_with_every_token_labelled(tmp_path: Path) -> None:
    tok = make_tokenizer(tmp_path / "tok")
    texts = ["The cytoplasm is a jelly-like liquid in which most chemical reactions take place. " * 9, "  ", "Cells."]
    windows = encode_texts(tok, texts, 32)
    whole = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts if t.strip()]
    assert len(whole[0]) > 64  # several windows
    assert all(1 < len(w["input_ids"]) <= 32 and w["labels"] == w["input_ids"] for w in windows)
    assert [t for w in windows for t in w["input_ids"]] == whole[0] + whole[1]  # in order, nothing lost or repeated
    assert all(w["prefix_len"] == 0 for w in windows)


def test_packing_has_no_cross_attention() -> None:
    import torch

    from tutorforge.training.sft_data import PackedCollator

    tok = make_tokenizer()
    model = make_model(tok, seed=3).eval()
    model.config.use_cache = False  # as the stage does: with a KV cache transformers ignores packed position_ids
    exs = encode_examples(tok, 3)
    rows = pack_examples(exs, 512)
    assert len(rows) == 1
    batch = PackedCollator(tok.pad_token_id)(rows)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        plain = model(input_ids=batch["input_ids"]).logits[0]  # same row, one causal sequence
        off = 0
        for i in pack_bins([len(e["input_ids"]) for e in exs], 512)[0]:
            n = len(exs[i]["input_ids"])
            alone = model(input_ids=torch.tensor([exs[i]["input_ids"]])).logits[0]
            torch.testing.assert_close(packed[off : off + n], alone, atol=1e-4, rtol=1e-4)
            if off:  # without the restarting position_ids, later examples would see the earlier ones
                assert (plain[off : off + n] - alone).abs().max() > 1e-2
            off += n


def test_shared_system_turns_are_seen_exactly_as_alone() -> None:
    """Rows whose examples share a system turn hold it once (pack_examples(share_prefixes=True)): each example's
    logits, and the batch's supervised loss, are those of the examples run alone; without the segment mask they are
    not (the test can fail)."""
    import torch

    from tutorforge.training.sft_data import PackedCollator
    from tutorforge.training.sft_trainer import supervised_nll

    tok = make_tokenizer()
    model = make_model(tok, seed=3).eval()
    model.config.use_cache = False
    system = {"role": "system", "content": "You are a tutor with tools: search(query), quiz(topic, n)."}
    recs = [[system, *r["messages"][-2:]] for r in make_records(5)] + [r["messages"][-2:] for r in make_records(2)]
    exs = [w for m in recs for w in encode_example(tok, m, max_length=128)]
    assert sum(e["prefix_len"] > 0 for e in exs) == 5 and len({e["prefix_len"] for e in exs if e["prefix_len"]}) == 1
    rows = pack_examples(exs, 512, share_prefixes=True)
    assert len(rows) == 1 and rows[0]["n_tokens"] == sum(len(e["input_ids"]) for e in exs)
    n_prefix = exs[0]["prefix_len"]
    assert len(rows[0]["input_ids"]) == sum(len(e["input_ids"]) for e in exs) - 4 * n_prefix  # one copy, not five
    batch = PackedCollator(tok.pad_token_id, pad_to=600)(rows)
    inputs = {k: batch[k] for k in ("input_ids", "position_ids", "attention_mask")}
    with torch.no_grad():
        packed = model(**inputs).logits[0]
        unmasked = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        row, seg = rows[0], torch.tensor(rows[0]["seg"])
        for s in sorted(set(row["seg"])):
            at = (seg == s).nonzero().squeeze(1)
            parent = row["parent"][int(at[0])]  # -1: the shared system turn itself, or an example without one
            ids = [row["input_ids"][i] for i in at]
            head = [i for i, p in enumerate(row["parent"]) if row["seg"][i] == parent] if parent >= 0 else []
            alone = model(input_ids=torch.tensor([[row["input_ids"][i] for i in head] + ids])).logits[0, len(head) :]
            torch.testing.assert_close(packed[at], alone, atol=1e-4, rtol=1e-4)
            if parent >= 0 and s > 1:  # later examples would see the earlier ones without the mask
                assert (unmasked[at] - alone).abs().max() > 1e-2
        nll, n = supervised_nll(model, batch)
        pieces = [supervised_nll(model, PackedCollator(tok.pad_token_id)(pack_examples([e], 512))) for e in exs]
    assert int(n) == sum(int(k) for _, k in pieces)
    assert float(nll) == pytest.approx(sum(float(x) for x, _ in pieces), rel=1e-4)


@pytest.mark.slow
def test_lora_run_lowers_loss_and_saves_reloadable_models(fx: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "lora"
    report = train(write_params(fx, out, max_steps=16, eval_steps=8, save_steps=8))
    log = list(read_jsonl(out / "train_log.jsonl"))
    losses = [r["loss"] for r in log if r["loss"] is not None]
    assert losses[-1] < losses[0]
    assert any(r["eval_loss"] is not None for r in log) and all(r["tokens_per_s"] for r in log if r["loss"])
    assert report["steps"] == 16 and report["answer_loss_sft"] < report["answer_loss_base"]
    assert read_json(out / "report.json") == report
    assert (out / "adapter" / "adapter_config.json").exists()
    tok = AutoTokenizer.from_pretrained(out / "merged")
    merged = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(fx / "model"), out / "adapter").eval()
    prompt = tok.apply_chat_template(
        TOOL_RECORD["messages"][:2], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        torch.testing.assert_close(merged(**prompt).logits, peft(**prompt).logits, atol=1e-4, rtol=1e-4)
        gen = merged.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert gen.shape[1] > prompt["input_ids"].shape[1]
    assert sorted(os.listdir(out)) == ["adapter", "checkpoints", "merged", "report.json", "train_log.jsonl"]


@pytest.mark.slow
def test_qlora_trains_4bit_on_cpu(fx: Path, tmp_path: Path) -> None:
    import bitsandbytes as bnb
    import torch
    from safetensors.torch import load_file

    from tutorforge.training.sft import load_model

    out = tmp_path / "qlora"
    params = write_params(fx, out, mode="qlora", max_steps=4, eval_steps=4, save_steps=4)
    cfg = load_config(SFTConfig, "sft", params)
    ids = torch.randint(0, 500, (2, 24), generator=torch.Generator().manual_seed(0))

    def lora_grads(eval_first: bool) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = load_model(cfg, "bf16")
        q_proj = model.base_model.model.model.layers[0].self_attn.q_proj
        assert isinstance(q_proj.base_layer, bnb.nn.Linear4bit) and q_proj.base_layer.weight.quant_type == "nf4"
        if eval_first:  # as Trainer's evaluation (and the stage's base answer loss) does between training steps
            model.eval()
            with torch.no_grad():
                model(input_ids=ids)
            model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, labels=ids).loss.backward()
        return {n: p.grad for n, p in model.named_parameters() if "layers.0." in n and "lora_B" in n}

    # gradients must flow through the 4-bit base layers the same way before and after an eval pass (bnb's CPU
    # repacking on eval would silently cut them; the stage turns it off)
    fresh, after_eval = lora_grads(False), lora_grads(True)
    for name, g in fresh.items():
        assert g.abs().max() > 0
        torch.testing.assert_close(after_eval[name], g, atol=1e-4, rtol=0.05)
    report = train(params)
    assert report["mode"] == "qlora" and report["steps"] == 4
    lora_b = {k: v for k, v in load_file(out / "adapter" / "adapter_model.safetensors").items() if "lora_B" in k}
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values())  # B starts at zero: non-zero means it trained
    assert (out / "merged" / "model.safetensors").exists()


@pytest.mark.slow
def test_interrupted_run_resumes_from_newest_checkpoint(fx: Path, tmp_path: Path) -> None:
    out = tmp_path / "resume"
    params = write_params(fx, out, max_steps=30, save_steps=2, eval_steps=30, logging_steps=2, merge=False)
    cmd = [sys.executable, "-m", "stages.sft", "-p", str(params)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = out / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not list(ckpts.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None, "run ended before writing a checkpoint"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "report.json").exists(), "run finished before it could be interrupted"
    done = sorted(int(p.parent.name.split("-")[1]) for p in ckpts.glob("checkpoint-*/trainer_state.json"))
    assert done and done[-1] < 30
    (out / "merged").mkdir()  # of an earlier run: with merge off, the new set of outputs has none
    (out / "merged" / "model.safetensors").write_bytes(b"older")
    report = train(params)  # the rerun (in-process: saves a second start-up) resumes by itself
    assert report["resumed_from"] == f"checkpoint-{done[-1]}" and report["steps"] == 30
    assert read_json(out / "report.json") == report
    steps = [r["step"] for r in read_jsonl(out / "train_log.jsonl")]
    assert steps[0] == 2 and steps[-1] == 30 and steps == sorted(set(steps))  # one curve, the counter continued
    assert sorted(os.listdir(out)) == ["adapter", "checkpoints", "report.json", "train_log.jsonl"]


def test_profiles_and_resume_fingerprint(fx: Path, tmp_path: Path) -> None:
    from tutorforge.training.sft import resume_fingerprint

    params = write_params(fx, tmp_path / "fp", profile="gpu", profiles={"gpu": {"batch_size": 32}})
    cfg = load_config(SFTConfig, "sft", params)
    assert cfg.batch_size == 32 and cfg.seed == 7
    with pytest.raises(ValueError, match="unknown key"):
        load_config(SFTConfig, "sft", params, ["sft.profiles.gpu.batch_sise=32"])
    base = resume_fingerprint(cfg)
    assert resume_fingerprint(load_config(SFTConfig, "sft", params, ["sft.eval_steps=99"])) == base  # logging knobs
    assert resume_fingerprint(load_config(SFTConfig, "sft", params, ["sft.learning_rate=1e-4"])) != base  # other run
    text = tmp_path / "text.jsonl"
    write_jsonl(text, [{"text": "Cells are the building blocks of life."}])
    with_text = resume_fingerprint(load_config(SFTConfig, "sft", params, [f"sft.text={text}"]))
    write_jsonl(text, [{"text": "Atoms are the building blocks of matter."}])
    assert with_text not in (base, resume_fingerprint(load_config(SFTConfig, "sft", params, [f"sft.text={text}"])))


def test_bad_mode_is_a_params_error_and_missing_split_a_stage_error(
    fx: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write_params(fx, tmp_path / "bad")
    with pytest.raises(ParamsError, match="sft.mode: 'dora' not in"):
        load_config(SFTConfig, "sft", params, ["sft.mode=dora"])
    assert main(["-p", str(params), "-S", f"sft.train={tmp_path / 'missing.jsonl'}"]) == 1
    assert "missing.jsonl does not exist" in capsys.readouterr().err
    assert main(["-p", str(params), "-S", f"sft.text={tmp_path / 'pages.jsonl'}"]) == 1
    assert "sft.text:" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_resume_fingerprint_changes_with_the_training_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DVC reruns sft when tutorforge/training changes; the rerun must train afresh, not pick up the finished
    checkpoint the old code wrote (same params and inputs)."""
    from tutorforge.training import checkpoints

    code = tmp_path / "training"
    code.mkdir()
    (code / "loss.py").write_text("WEIGHT = 1\n")
    monkeypatch.setattr(checkpoints, "CODE_DIRS", (code,))
    before = checkpoints.run_fingerprint({"lr": 1e-3}, (), [])
    assert checkpoints.run_fingerprint({"lr": 1e-3}, (), []) == before
    (code / "loss.py").write_text("WEIGHT = 5\n")
    assert checkpoints.run_fingerprint({"lr": 1e-3}, (), []) != before
    assert checkpoints.code_digest() != checkpoints.code_digest([tmp_path / "missing"])
