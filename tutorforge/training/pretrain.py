"""Pretrain: a Llama-architecture decoder LM on the pretraining splits, from scratch or continued from a base model.

    python -m stages.pretrain                                       # params.yaml [pretrain], profile cpu (~3-4 min)
    python -m stages.pretrain --max-steps 20 --output /tmp/pt       # quick run
    dvc exp run -S pretrain.profile=gpu-h100                        # a GPU profile (preset/batch/precision/steps)
    torchrun --nproc_per_node 2 -m stages.pretrain -S deepspeed.enabled=true   # DeepSpeed ZeRO (stage in params)
    accelerate launch -m stages.pretrain                            # any standard launcher works (HF Trainer)

Documents (the `text` of input/train.jsonl, file order) are tokenised without special tokens, joined with EOS and
cut into `block_size` blocks (remainder dropped); the validation split likewise (first `eval_max_blocks`). HF
`Trainer`: AdamW, cosine schedule with warmup down to `min_lr_ratio`, gradient accumulation, bf16/fp16 autocast when
the hardware has it, eval every `eval_steps` (and at step 0), checkpoints every `save_steps` in
`<output>/checkpoints` (rotation `save_total_limit`), TensorBoard in `<output>/checkpoints/tensorboard`.
Resume is automatic: the newest complete checkpoint of the SAME run (fingerprint of config + input hashes in
`checkpoints/run.json`) is resumed, step counter, optimizer, scheduler and RNG included; a different fingerprint
clears the stale checkpoints first. Outputs: `<output>/model/` (model + tokenizer + generation_config stopping at EOS
and `<|end|>`), `<output>/train_log.jsonl` (step, loss, eval_loss, lr, tokens_per_s, mfu), `<output>/report.json`.
A `profile` (params `pretrain.profiles.<name>`) overrides section values; CLI flags and `-S key=value` override both.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tutorforge.core.config import DEFAULT_PARAMS, config_dict, load_config
from tutorforge.core.ids import sha256_file, stable_id
from tutorforge.core.io import atomic_dir, dumps, read_json, read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger

log = get_logger(__name__)

# Llama shapes; nominal sizes counted at vocab 32000 (tests/test_pretrain.py checks them on the meta device).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                 intermediate_size=768, max_position_embeddings=256, tie_word_embeddings=True),
    "25m": dict(hidden_size=384, num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=6,
                intermediate_size=1024, max_position_embeddings=1024, tie_word_embeddings=True),
    "125m": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=12,
                 intermediate_size=2560, max_position_embeddings=2048, tie_word_embeddings=True),
    "350m": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                 intermediate_size=2816, max_position_embeddings=2048, tie_word_embeddings=True),
    "1b": dict(hidden_size=2048, num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
               intermediate_size=5632, max_position_embeddings=2048, tie_word_embeddings=False),
}
# Config fields that do not change the trained weights (left out of the resume fingerprint).
NON_RESULT_FIELDS = {"input", "tokenizer", "output", "eval_steps", "save_steps", "save_total_limit", "logging_steps",
                     "resume", "profiles", "eval_max_blocks"}


@dataclass
class PretrainConfig:
    input: str = "artifacts/dataset/pretrain"
    """Dir with train.jsonl and validation.jsonl (records with a `text` field)."""
    tokenizer: str = "artifacts/tokenizer"
    """Tokenizer dir (from the tokenizer stage; a copy of the base model's tokenizer when base_model is set)."""
    output: str = "artifacts/pretrain"
    """Output dir: model/, checkpoints/, train_log.jsonl, report.json."""
    base_model: str | None = None
    """Continue pretraining this model (local dir, hub id, or `smollm2`) instead of a fresh `preset` model."""
    profile: str = "cpu"
    """Hardware profile: a key of `profiles` whose values override this section (cpu, gpu-a100, gpu-h100...)."""
    profiles: dict[str, dict[str, Any]] = field(default_factory=lambda: {"cpu": {}})
    """Named overrides per hardware profile."""
    preset: str = "tiny"
    """Model size preset: tiny (~5M at vocab 8k), 25m, 125m, 350m, 1b."""
    model: dict[str, Any] = field(default_factory=dict)
    """LlamaConfig overrides on top of the preset (e.g. {num_hidden_layers: 2})."""
    block_size: int = 256
    """Tokens per training sequence (packed blocks)."""
    batch_size: int = 8
    """Sequences per device per micro-step."""
    grad_accum: int = 1
    """Micro-steps per optimizer step."""
    max_steps: int = 80
    """Optimizer steps (the data is cycled as often as needed)."""
    learning_rate: float = 1e-3
    """Peak learning rate (AdamW)."""
    min_lr_ratio: float = 0.1
    """Cosine schedule floor as a fraction of the peak."""
    warmup_steps: int = 10
    """Linear warmup steps."""
    weight_decay: float = 0.1
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    precision: str = "auto"
    """auto|bf16|fp16|fp32 (auto: bf16 on bf16-capable GPUs/CPUs, fp16 on older GPUs, else fp32)."""
    eval_steps: int = 20
    """Evaluate every N steps and at step 0 (0: only once at the end)."""
    eval_max_blocks: int = 64
    """Validation blocks used per evaluation (first N, so every evaluation sees the same data)."""
    save_steps: int = 40
    """Checkpoint every N steps (0: no checkpoints, so no resume)."""
    save_total_limit: int = 2
    """Checkpoints kept (oldest deleted)."""
    logging_steps: int = 10
    """Log loss/lr/tokens per second every N steps."""
    resume: bool = True
    """Resume automatically from the newest complete checkpoint of the same run."""
    torch_compile: bool = False
    """torch.compile the model (faster steps on GPU; ~40 s compile on CPU)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward (less memory, ~30% slower)."""
    deepspeed: dict[str, Any] = field(default_factory=lambda: {"enabled": False, "stage": 2, "offload": False})
    """DeepSpeed ZeRO: {enabled, stage 0-3, offload}; the JSON config is written to <output>/checkpoints/ds_config.json."""
    num_workers: int = 0
    """DataLoader worker processes."""
    seed: int = 1337
    """Seed for model init, data order and dropout (shared `seed`)."""


def resolve_config(cfg: PretrainConfig, **overrides: Any) -> PretrainConfig:
    """Apply the selected profile, then explicit overrides (non-None); validate the result."""
    if overrides.get("profile"):
        cfg = dataclasses.replace(cfg, profile=overrides.pop("profile"))
    if cfg.profile not in cfg.profiles:
        raise ValueError(f"pretrain.profile {cfg.profile!r} not in profiles {sorted(cfg.profiles)}")
    prof = dict(cfg.profiles[cfg.profile])
    names = {f.name for f in dataclasses.fields(PretrainConfig)} - {"profile", "profiles"}
    if unknown := sorted(set(prof) - names):
        raise ValueError(f"pretrain.profiles.{cfg.profile}: unknown key(s) {unknown}")
    cfg = dataclasses.replace(cfg, **{**prof, **{k: v for k, v in overrides.items() if v is not None}})
    for f in dataclasses.fields(cfg):  # YAML reads `1e-3` (no dot) as a string: coerce numbers, fail clearly
        value = getattr(cfg, f.name)
        if f.type in ("float", "int") and isinstance(value, str):
            try:
                setattr(cfg, f.name, float(value) if f.type == "float" else int(value))
            except ValueError as e:
                raise ValueError(f"pretrain.{f.name}: expected a number, got {value!r}") from e
    if not cfg.base_model and cfg.preset not in PRESETS:
        raise ValueError(f"pretrain.preset {cfg.preset!r} not in {sorted(PRESETS)}")
    return cfg


def model_config(preset: str, vocab_size: int, overrides: dict[str, Any] | None = None, **special: Any) -> Any:
    """LlamaConfig of a preset (+ overrides) for a vocabulary size."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, **{**PRESETS[preset], **(overrides or {})}, **special)


def pack_documents(texts: list[str], tokenizer: Any, block_size: int) -> Any:
    """Tokenise documents (no special tokens), append EOS to each, concatenate, cut into [n, block_size] (remainder
    dropped). Returns a LongTensor."""
    import torch

    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token: packing needs a document separator")
    ids: list[int] = []
    for enc in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(enc)
        ids.append(eos)
    n = len(ids) // block_size
    return torch.tensor(ids[: n * block_size], dtype=torch.long).view(n, block_size)


class BlockDataset:
    """Map-style dataset of packed blocks: {input_ids, labels} (labels = inputs; the model shifts them)."""

    def __init__(self, blocks: Any) -> None:
        self.blocks = blocks

    def __len__(self) -> int:
        return int(self.blocks.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


def load_texts(path: Path) -> list[str]:
    """`text` fields of a JSONL split (clear error when missing)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (run the dataset stage first)")
    return [r["text"] for r in read_jsonl(path) if r.get("text")]


def fingerprint(cfg: PretrainConfig) -> str:
    """Hash of what determines the trained weights: result-relevant config + input/tokenizer file hashes."""
    conf = {k: v for k, v in config_dict(cfg).items() if k not in NON_RESULT_FIELDS}
    files = [Path(cfg.input) / "train.jsonl", Path(cfg.tokenizer) / "tokenizer.json"]
    return stable_id(dumps(conf), *[sha256_file(f) if f.exists() else "-" for f in files], length=32)


def prepare_checkpoints(ckpt_dir: Path, fp: str, resume: bool, is_main: bool) -> str | None:
    """The checkpoint to resume from (same fingerprint), else None after clearing stale checkpoints."""
    from tutorforge.training.training import find_resume_checkpoint

    run_file = ckpt_dir / "run.json"
    same = run_file.exists() and read_json(run_file).get("fingerprint") == fp
    last = find_resume_checkpoint(ckpt_dir) if same and resume else None
    if is_main and not last and ckpt_dir.exists():
        log.info("no resumable checkpoint of this run: clearing %s", ckpt_dir)
        shutil.rmtree(ckpt_dir)
    if is_main:
        write_json(run_file, {"fingerprint": fp})
    return last


def pretrain(cfg: PretrainConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train and write model/, train_log.jsonl, report.json under cfg.output; returns the report.
    `callbacks`: extra transformers TrainerCallbacks (benchmarks, tests)."""
    import torch
    import transformers
    from transformers import AutoTokenizer, LlamaForCausalLM, PrinterCallback, Trainer, TrainingArguments

    from tutorforge.training import training as T
    from tutorforge.training.models import load_causal_lm

    transformers.logging.set_verbosity_warning()
    dist = T.dist_info()
    out, ckpt_dir = Path(cfg.output), Path(cfg.output) / "checkpoints"
    transformers.set_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(cfg.tokenizer)
    t0 = time.perf_counter()
    train = pack_documents(load_texts(Path(cfg.input) / "train.jsonl"), tok, cfg.block_size)
    val = pack_documents(load_texts(Path(cfg.input) / "validation.jsonl"), tok, cfg.block_size)[: cfg.eval_max_blocks]
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"not enough text for one {cfg.block_size}-token block (train {len(train)}, val {len(val)})")
    log.info("packed %d train / %d validation blocks of %d tokens in %.1fs", len(train), len(val), cfg.block_size,
             time.perf_counter() - t0)
    precision = T.select_precision(cfg.precision)
    special = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    if cfg.base_model:
        model = load_causal_lm(cfg.base_model, dtype=torch.float32)
        if len(tok) > model.get_input_embeddings().num_embeddings:
            raise ValueError(f"tokenizer ({len(tok)}) is larger than {cfg.base_model}'s embeddings: use its tokenizer")
    else:
        model = LlamaForCausalLM(model_config(cfg.preset, len(tok), cfg.model, **special))
    vocab = tok.get_vocab()  # generation stops at EOS and at the chat template's end-of-turn token
    stops = {tok.eos_token_id, *(vocab[t] for t in ("<|end|>", "<|im_end|>") if t in vocab)} - {None}
    model.generation_config.eos_token_id = sorted(stops) or None
    model.generation_config.pad_token_id = tok.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    log.info("model: %s, %.2fM params, precision %s, %d process(es)", cfg.base_model or cfg.preset, n_params / 1e6,
             precision, dist["world_size"])

    resume_from = prepare_checkpoints(ckpt_dir, fingerprint(cfg), cfg.resume, bool(dist["is_main"]))
    ds_path = None
    if cfg.deepspeed.get("enabled"):
        ds_path = T.write_deepspeed_config(ckpt_dir / "ds_config.json", stage=int(cfg.deepspeed.get("stage", 2)),
                                           offload=bool(cfg.deepspeed.get("offload", False)), precision=precision)
    args = TrainingArguments(
        output_dir=str(ckpt_dir), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=eval_batch_size(len(val), cfg.batch_size), gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio}, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, adam_beta2=0.95,
        eval_strategy="steps" if cfg.eval_steps > 0 else "no", eval_steps=max(cfg.eval_steps, 1),
        eval_on_start=cfg.eval_steps > 0, save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=max(cfg.save_steps, 1), save_total_limit=cfg.save_total_limit, logging_steps=cfg.logging_steps,
        report_to=T.setup_tensorboard(ckpt_dir / "tensorboard"), seed=cfg.seed, data_seed=cfg.seed,
        dataloader_drop_last=True, dataloader_num_workers=cfg.num_workers, torch_compile=cfg.torch_compile,
        activation_checkpointing=cfg.gradient_checkpointing, deepspeed=ds_path, disable_tqdm=not sys.stderr.isatty(),
        use_cpu=not torch.cuda.is_available(), **T.precision_flags(precision))
    tokens_per_step = cfg.batch_size * cfg.grad_accum * int(dist["world_size"]) * cfg.block_size
    trainer = Trainer(model=model, args=args, train_dataset=BlockDataset(train), eval_dataset=BlockDataset(val),
                      processing_class=tok)
    trainer.remove_callback(PrinterCallback)
    T.add_callback_first(trainer, T.throughput_callback(n_params, tokens_per_step))
    trainer.add_callback(T.log_callback(log, cfg.max_steps))
    for cb in callbacks or []:
        trainer.add_callback(cb)
    if resume_from:
        log.info("resuming from %s", resume_from)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - t0
    last_eval = [e for e in trainer.state.log_history if "eval_loss" in e]
    if last_eval and last_eval[-1]["step"] == trainer.state.global_step:
        final_eval = float(last_eval[-1]["eval_loss"])
    else:
        final_eval = float(trainer.evaluate()["eval_loss"])

    staging = out / ".model.staging"
    if dist["is_main"]:
        shutil.rmtree(staging, ignore_errors=True)  # leftovers of a crashed run
    trainer.save_model(str(staging))  # collective under ZeRO-3; only the main process writes
    report: dict[str, Any] = {}
    if dist["is_main"]:
        tok.save_pretrained(staging)
        (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle of run-specific paths: not part of the model
        with atomic_dir(out / "model") as tmp:
            shutil.copytree(staging, tmp, dirs_exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        records = T.train_log_records(trainer.state.log_history)
        write_jsonl(out / "train_log.jsonl", records)
        evals = [r["eval_loss"] for r in records if r["eval_loss"] is not None]
        losses = [r["loss"] for r in records if r["loss"] is not None]
        rates = [r["tokens_per_s"] for r in records if r["tokens_per_s"]]
        report = {
            "params": n_params, "preset": None if cfg.base_model else cfg.preset, "base_model": cfg.base_model,
            "precision": precision, "world_size": dist["world_size"], "steps": trainer.state.global_step,
            "tokens": trainer.state.global_step * tokens_per_step, "seconds_this_run": round(seconds, 1),
            "resumed_from_step": int(resume_from.rsplit("-", 1)[1]) if resume_from else 0,
            "initial_eval_loss": evals[0] if evals else None, "final_eval_loss": round(final_eval, 4),
            "final_train_loss": losses[-1] if losses else round(result.training_loss, 4),
            "final_eval_perplexity": round(math.exp(min(final_eval, 50)), 2),
            "tokens_per_s": round(sum(rates) / len(rates), 1) if rates else None,
            "train_blocks": len(train), "eval_blocks": len(val), "config": config_dict(cfg),
        }
        write_json(out / "report.json", report)
        log.info("done: %d steps, eval loss %s -> %.3f, %s tok/s; wrote %s", report["steps"],
                 report["initial_eval_loss"], final_eval, report["tokens_per_s"], out / "model")
    return report


def eval_batch_size(n_blocks: int, batch_size: int) -> int:
    """Largest divisor of n_blocks <= batch_size: `dataloader_drop_last` (fixed train batches) also applies to the
    eval loader, and must not drop validation blocks (with fewer blocks than a batch, it would drop them all)."""
    return max((d for d in range(1, max(1, min(batch_size, n_blocks)) + 1) if n_blocks % d == 0), default=1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", help="dir with train.jsonl / validation.jsonl")
    ap.add_argument("--tokenizer", help="tokenizer dir")
    ap.add_argument("--output", help="output dir")
    ap.add_argument("--base-model", help="continue pretraining this model")
    ap.add_argument("--profile", help="hardware profile name")
    ap.add_argument("--max-steps", type=int)
    ap.add_argument("--params", default=str(DEFAULT_PARAMS))
    ap.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override any field (YAML value; dotted for dicts: deepspeed.enabled=true)")
    a = ap.parse_args(argv)
    cfg = load_config(PretrainConfig, "pretrain", a.params, profile=a.profile)
    sets: dict[str, Any] = {}
    for item in a.set:
        key, _, value = item.partition("=")
        head, _, sub = key.removeprefix("pretrain.").partition(".")
        if sub:
            sets.setdefault(head, dict(getattr(cfg, head)))[sub] = yaml.safe_load(value)
        else:
            sets[head] = yaml.safe_load(value)
    cfg = resolve_config(cfg, input=a.input, tokenizer=a.tokenizer, output=a.output, base_model=a.base_model,
                         max_steps=a.max_steps, **sets)
    return pretrain(cfg)


if __name__ == "__main__":
    main()
