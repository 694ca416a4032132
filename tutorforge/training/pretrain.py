"""Pretrain: a Llama-architecture decoder LM on the pretraining splits, from scratch or continued from a base model.

    cfg = load_config(PretrainConfig)          # params.yaml [pretrain] (+ the selected profile), see stages/pretrain.py
    report = pretrain(cfg)                     # -> <output>/model/, train_log.jsonl, report.json

Documents (the `text` of input/train.jsonl, file order) are tokenised without special tokens, joined with EOS and
cut into `block_size` blocks (remainder dropped); the validation split likewise (first `eval_max_blocks`). HF
`Trainer`: AdamW, cosine schedule with warmup down to `min_lr_ratio`, gradient accumulation, bf16/fp16 autocast when
the hardware has it, eval every `eval_steps` (and at step 0), checkpoints every `save_steps` in
`<output>/checkpoints` (rotation `save_total_limit`), TensorBoard in `<output>/checkpoints/tensorboard`.
Resume is automatic (tutorforge/training/checkpoints.py): the newest complete checkpoint of the SAME run (fingerprint
of config + input hashes in `checkpoints/run.json`) is resumed, step counter, optimizer, scheduler and RNG included;
a different fingerprint clears the stale checkpoints first. Outputs: `<output>/model/` (model + tokenizer +
generation_config stopping at EOS and `<|end|>`), `<output>/train_log.jsonl` (step, loss, eval_loss, lr, tokens_per_s,
mfu), `<output>/report.json`, replaced together (core/outputs.py; checkpoints/ is no part of that set). Works the
same under torchrun / deepspeed / accelerate launch (HF Trainer).
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from tutorforge.core.config import Fraction, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, config_dict, section
from tutorforge.core.io import read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs, sweep_outputs
from tutorforge.training.checkpoints import prepare_resume, run_fingerprint
from tutorforge.training.deepspeed import DeepSpeedConfig
from tutorforge.training.hardware import check_precision

log = get_logger(__name__)

OUTPUTS = ("model", "train_log.jsonl", "report.json")
MODEL_STAGING = ".model.staging"  # one fixed name: every rank passes it to save_model (DeepSpeed writes from each)

# Llama shapes; nominal sizes counted at vocab 32000 (tests/test_pretrain.py checks them on the meta device).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=768,
        max_position_embeddings=256,
        tie_word_embeddings=True,
    ),
    "25m": dict(
        hidden_size=384,
        num_hidden_layers=8,
        num_attention_heads=6,
        num_key_value_heads=6,
        intermediate_size=1024,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    ),
    "125m": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=12,
        intermediate_size=2560,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    ),
    "350m": dict(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_key_value_heads=16,
        intermediate_size=2816,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    ),
    "1b": dict(
        hidden_size=2048,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        intermediate_size=5632,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
    ),
}
# Config fields that do not change the trained weights (left out of the resume fingerprint).
NON_RESULT_FIELDS = {
    "input",
    "tokenizer",
    "output",
    "eval_steps",
    "save_steps",
    "save_total_limit",
    "logging_steps",
    "resume",
    "profiles",
    "eval_max_blocks",
}


@section("pretrain")
@dataclass
class PretrainConfig:
    input: str = "artifacts/dataset/pretrain"
    """Dir with train.jsonl and validation.jsonl (records with a `text` field)."""
    tokenizer: str = "artifacts/tokenizer"
    """Tokenizer dir (from the tokenizer stage; a copy of the base model's tokenizer when base_model is set)."""
    output: str = "artifacts/pretrain"
    """Output dir: model/, checkpoints/, train_log.jsonl, report.json."""
    base_model: str | None = "smollm2"
    """Continue pretraining this model (local dir, hub id, or `smollm2`) instead of a fresh `preset` model."""
    profile: str = "cpu"
    """Hardware profile: a key of `profiles` whose values override this section (cpu, gpu-a100, gpu-h100...)."""
    profiles: dict[str, dict[str, Any]] = field(default_factory=lambda: {"cpu": {}})
    """Named overrides per hardware profile."""
    preset: str = "tiny"
    """Model size preset: tiny (~5M at vocab 8k), 25m, 125m, 350m, 1b."""
    model: dict[str, Any] = field(default_factory=dict)
    """LlamaConfig overrides on top of the preset (e.g. {num_hidden_layers: 2})."""
    block_size: PositiveInt = 256
    """Tokens per training sequence (packed blocks)."""
    batch_size: PositiveInt = 8
    """Sequences per device per micro-step."""
    grad_accum: PositiveInt = 1
    """Micro-steps per optimizer step."""
    max_steps: NonNegInt = 0
    """Optimizer steps (the data is cycled as often as needed); 0 with a base_model = no continued pretraining: the
    base model is written unchanged (its validation loss still reported), so SFT starts from it as it ships."""
    learning_rate: PositiveFloat = 5e-5
    """Peak learning rate (AdamW)."""
    min_lr_ratio: Fraction = 0.1
    """Cosine schedule floor as a fraction of the peak."""
    warmup_steps: NonNegInt = 10
    """Linear warmup steps."""
    weight_decay: NonNegFloat = 0.1
    """AdamW weight decay."""
    max_grad_norm: NonNegFloat = 1.0
    """Gradient clipping norm."""
    precision: str = "auto"
    """auto|bf16|fp16|fp32 (auto: bf16 on bf16-capable GPUs/CPUs, fp16 on older GPUs, else fp32)."""
    eval_steps: NonNegInt = 20
    """Evaluate every N steps and at step 0 (0: only once at the end)."""
    eval_max_blocks: PositiveInt = 64
    """Validation blocks used per evaluation (first N, so every evaluation sees the same data)."""
    save_steps: NonNegInt = 40
    """Checkpoint every N steps (0: no checkpoints, so no resume)."""
    save_total_limit: NonNegInt = 2
    """Checkpoints kept (oldest deleted)."""
    logging_steps: PositiveInt = 10
    """Log loss/lr/tokens per second every N steps."""
    resume: bool = True
    """Resume automatically from the newest complete checkpoint of the same run."""
    torch_compile: bool = False
    """torch.compile the model (faster steps on GPU; ~40 s compile on CPU)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward (less memory, ~30% slower)."""
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    """DeepSpeed ZeRO: {enabled, stage 0-3, offload}; the JSON config is written to <output>/checkpoints/ds_config.json."""
    num_workers: NonNegInt = 0
    """DataLoader worker processes."""
    seed: int = 1337
    """Seed for model init, data order and dropout (shared `seed`)."""

    def __post_init__(self) -> None:
        if not self.base_model and self.preset not in PRESETS:
            raise ValueError(f"pretrain.preset: {self.preset!r} not in {sorted(PRESETS)} (or set pretrain.base_model)")
        check_precision(self.precision, "pretrain.precision")
        if self.max_steps == 0 and not self.base_model:
            raise ValueError("pretrain.max_steps: 0 (no training) needs pretrain.base_model")


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


def resume_fingerprint(cfg: PretrainConfig) -> str:
    """Fingerprint of the run (checkpoints.run_fingerprint): result-relevant config + input/tokenizer file hashes."""
    files = [Path(cfg.input) / "train.jsonl", Path(cfg.tokenizer) / "tokenizer.json"]
    return run_fingerprint(config_dict(cfg), NON_RESULT_FIELDS, files)


def pretrain(cfg: PretrainConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train and write model/, train_log.jsonl, report.json under cfg.output; returns the report.
    `callbacks`: extra transformers TrainerCallbacks (benchmarks, tests)."""
    import torch
    import transformers
    from torch.utils.data import Dataset
    from transformers import AutoTokenizer, LlamaForCausalLM, PrinterCallback, Trainer, TrainingArguments

    from tutorforge.training import callbacks as C
    from tutorforge.training import hardware as H
    from tutorforge.training.deepspeed import deepspeed_config_file
    from tutorforge.training.models import load_causal_lm

    transformers.logging.set_verbosity_warning()
    dist = H.dist_info()
    out, ckpt_dir = Path(cfg.output), Path(cfg.output) / "checkpoints"
    transformers.set_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(cfg.tokenizer)
    t0 = time.perf_counter()
    train = pack_documents(load_texts(Path(cfg.input) / "train.jsonl"), tok, cfg.block_size)
    val = pack_documents(load_texts(Path(cfg.input) / "validation.jsonl"), tok, cfg.block_size)[: cfg.eval_max_blocks]
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"not enough text for one {cfg.block_size}-token block (train {len(train)}, val {len(val)})")
    log.info(
        "packed %d train / %d validation blocks of %d tokens in %.1fs",
        len(train),
        len(val),
        cfg.block_size,
        time.perf_counter() - t0,
    )
    precision = H.select_precision(cfg.precision)
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
    log.info(
        "model: %s, %.2fM params, precision %s, %d process(es)",
        cfg.base_model or cfg.preset,
        n_params / 1e6,
        precision,
        dist["world_size"],
    )

    if cfg.max_steps == 0:
        return _write_base_unchanged(cfg, model, tok, val, n_params, precision)
    resume_from = prepare_resume(ckpt_dir, resume_fingerprint(cfg), cfg.resume, bool(dist["is_main"]))
    if dist["is_main"]:  # leftovers of a killed run go now, not at the end of this one
        sweep_outputs(out, OUTPUTS)
        shutil.rmtree(out / MODEL_STAGING, ignore_errors=True)
    ds_path = deepspeed_config_file(cfg.deepspeed, ckpt_dir, precision)
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=eval_batch_size(len(val), cfg.batch_size),
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio},
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        adam_beta2=0.95,
        eval_strategy="steps" if cfg.eval_steps > 0 else "no",
        eval_steps=max(cfg.eval_steps, 1),
        eval_on_start=cfg.eval_steps > 0,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=max(cfg.save_steps, 1),
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        report_to=C.setup_tensorboard(ckpt_dir / "tensorboard"),
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_drop_last=True,
        dataloader_num_workers=cfg.num_workers,
        torch_compile=cfg.torch_compile,
        activation_checkpointing=cfg.gradient_checkpointing,
        deepspeed=ds_path,
        disable_tqdm=not sys.stderr.isatty(),
        use_cpu=not torch.cuda.is_available(),
        **H.precision_flags(precision),
    )
    tokens_per_step = cfg.batch_size * cfg.grad_accum * int(dist["world_size"]) * cfg.block_size
    # BlockDataset is duck-typed (len + getitem, all the DataLoader needs): no torch import at config-load time
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=cast(Dataset, BlockDataset(train)),
        eval_dataset=cast(Dataset, BlockDataset(val)),
        processing_class=tok,
    )
    trainer.remove_callback(PrinterCallback)
    C.add_callback_first(trainer, C.throughput_callback(n_params, tokens_per_step))
    trainer.add_callback(C.log_callback(log, cfg.max_steps))
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

    staging = out / MODEL_STAGING
    trainer.save_model(str(staging))  # collective under ZeRO-3; only the main process writes
    report: dict[str, Any] = {}
    if dist["is_main"]:
        tok.save_pretrained(staging)
        (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle of run-specific paths: not part of the model
        records = C.train_log_records(trainer.state.log_history)
        evals = [r["eval_loss"] for r in records if r["eval_loss"] is not None]
        losses = [r["loss"] for r in records if r["loss"] is not None]
        rates = [r["tokens_per_s"] for r in records if r["tokens_per_s"]]
        report = {
            "params": n_params,
            "preset": None if cfg.base_model else cfg.preset,
            "base_model": cfg.base_model,
            "precision": precision,
            "world_size": dist["world_size"],
            "steps": trainer.state.global_step,
            "tokens": trainer.state.global_step * tokens_per_step,
            "seconds_this_run": round(seconds, 1),
            "resumed_from_step": int(resume_from.rsplit("-", 1)[1]) if resume_from else 0,
            "initial_eval_loss": evals[0] if evals else None,
            "final_eval_loss": round(final_eval, 4),
            "final_train_loss": losses[-1] if losses else round(result.training_loss, 4),
            "final_eval_perplexity": round(math.exp(min(final_eval, 50)), 2),
            "tokens_per_s": round(sum(rates) / len(rates), 1) if rates else None,
            "train_blocks": len(train),
            "eval_blocks": len(val),
            "config": config_dict(cfg),
        }
        with replace_outputs(out, OUTPUTS) as outs:
            outs.adopt("model", staging)
            write_jsonl(outs / "train_log.jsonl", records)
            write_json(outs / "report.json", report)
        log.info(
            "done: %d steps, eval loss %s -> %.3f, %s tok/s; wrote %s",
            report["steps"],
            report["initial_eval_loss"],
            final_eval,
            report["tokens_per_s"],
            out / "model",
        )
    return report


def _write_base_unchanged(
    cfg: PretrainConfig, model: Any, tok: Any, val: Any, n_params: int, precision: str
) -> dict[str, Any]:
    """max_steps 0: the base model as it ships (plus the pipeline's generation stops) and its validation loss."""
    import torch

    loss_sum, blocks = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(val), cfg.batch_size):
            ids = val[i : i + cfg.batch_size]
            loss_sum += float(model(input_ids=ids, labels=ids, use_cache=False).loss) * len(ids)
            blocks += len(ids)
    eval_loss = loss_sum / max(blocks, 1)
    report = {
        "params": n_params,
        "preset": None,
        "base_model": cfg.base_model,
        "continued_pretraining": False,
        "precision": precision,
        "steps": 0,
        "tokens": 0,
        "initial_eval_loss": round(eval_loss, 4),
        "final_eval_loss": round(eval_loss, 4),
        "final_eval_perplexity": round(math.exp(min(eval_loss, 50)), 2),
        "eval_blocks": len(val),
        "config": config_dict(cfg),
    }
    out = Path(cfg.output)
    sweep_outputs(out, OUTPUTS)
    with replace_outputs(out, OUTPUTS) as outs:
        model.save_pretrained(outs / "model")
        tok.save_pretrained(outs / "model")
        # one eval line, so the log (a DVC out) says what was measured rather than being empty
        write_jsonl(outs / "train_log.jsonl", [{"step": 0, "eval_loss": round(eval_loss, 4)}])
        write_json(outs / "report.json", report)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)  # a declared (persist) DVC out: no steps, no checkpoints
    log.info("max_steps 0: wrote %s unchanged to %s (validation loss %.3f)", cfg.base_model, out / "model", eval_loss)
    return report


def eval_batch_size(n_blocks: int, batch_size: int) -> int:
    """Largest divisor of n_blocks <= batch_size: `dataloader_drop_last` (fixed train batches) also applies to the
    eval loader, and must not drop validation blocks (with fewer blocks than a batch, it would drop them all)."""
    return max((d for d in range(1, max(1, min(batch_size, n_blocks)) + 1) if n_blocks % d == 0), default=1)
