"""SFT: LoRA / QLoRA (4-bit NF4) / full fine-tuning of the pretrained model on the chat examples.

    cfg = load_config(SFTConfig)               # params.yaml [sft] + seed (+ the selected profile), see stages/sft.py
    report = run_sft(cfg)                      # -> <output>/adapter/, merged/, train_log.jsonl, report.json

Loss on assistant tokens only (text + tool calls; see tutorforge/training/sft_data.py), short examples packed into rows
without attention across examples. TRL's SFTTrainer (tutorforge/training/sft_trainer.py: what stays ours and why) with eval every `eval_steps`, checkpoints every `save_steps`
(rotated) in `<output>/checkpoints/`; a rerun after an interruption resumes from the newest complete checkpoint
automatically (the step counter continues) unless the inputs/params fingerprint changed
(tutorforge/training/checkpoints.py). Outputs: `<output>/adapter/` (peft), `<output>/merged/` (LoRA merged into
full-precision base weights + tokenizer, for serving), `<output>/train_log.jsonl` (step, loss, eval_loss, lr,
tokens_per_s), `<output>/report.json` (metrics), replaced together (core/outputs.py: a kill leaves the previous
set or the new one; without `merge` the set has no merged/; checkpoints/ is no part of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorforge.core.config import Fraction, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, config_dict, section
from tutorforge.core.io import read_jsonl, write_json, write_jsonl
from tutorforge.core.logs import get_logger
from tutorforge.core.outputs import replace_outputs, sweep_outputs
from tutorforge.training.checkpoints import prepare_resume, run_fingerprint
from tutorforge.training.deepspeed import DeepSpeedConfig
from tutorforge.training.hardware import check_precision
from tutorforge.training.sft_data import TRUNCATIONS

log = get_logger(__name__)
MODES = ("lora", "qlora", "full")
OUTPUTS = ("adapter", "merged", "train_log.jsonl", "report.json")
# Config fields that do not change the trained weights (left out of the resume fingerprint).
NON_RESULT_FIELDS = {
    "output", "eval_steps", "save_steps", "save_total_limit", "logging_steps", "resume", "merge",
    "cache_frozen_layers", "cache_max_mb",
}  # fmt: skip


@section("sft")
@dataclass
class SFTConfig:
    base_model: str = "artifacts/pretrain/model"
    """Pretrained model: HF dir, alias (smollm2) or hub id."""
    tokenizer: str = "artifacts/tokenizer"
    """Tokenizer dir with a chat template; "" = the base model's own tokenizer."""
    train: str = "artifacts/dataset/sft/train.jsonl"
    """Training example records (messages...)."""
    validation: str = "artifacts/dataset/sft/validation.jsonl"
    """Held-out example records for eval_loss and the answer-loss report."""
    text: str = "artifacts/dataset/pretrain/train.jsonl"
    """Textbook text records (JSONL with a "text" field: the dataset stage's pretrain/train.jsonl) trained as plain
    language modelling next to the chat examples, in max_length windows with a label on every token ("" = none). The
    templates put a few sentences of each section into answers; the tutor answers questions written in other words
    about the whole page, so it reads the pages themselves too (the held-out sections' text is not in that split)."""
    output: str = "artifacts/sft"
    """Output dir: adapter/, merged/, checkpoints/, train_log.jsonl, report.json."""
    mode: str = "lora"
    """lora | qlora (4-bit NF4 base, double quantisation) | full (all weights)."""
    lora_r: PositiveInt = 16
    """LoRA rank."""
    lora_alpha: PositiveInt = 32
    """LoRA scaling numerator (scale = alpha / r)."""
    lora_dropout: Fraction = 0.05
    """Dropout on the LoRA input."""
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    """Linear layers that get LoRA adapters."""
    modules_to_save: list[str] = field(default_factory=list)
    """Modules trained in full next to the adapters (e.g. lm_head, embed_tokens)."""
    lora_layers: NonNegInt = 10
    """LoRA on the top N transformer layers only (0 = all). Backward then stops at the lowest adapted layer, so the
    layers below cost a forward pass only (SmolLM2-135M, top 10 of 30: ~1.6x the tokens/s of all layers)."""
    cache_frozen_layers: bool = True
    """With LoRA on the top `lora_layers` only, keep each training row's output of the frozen layers below in memory
    and serve it on every later epoch (exact; tutorforge/training/frozen_cache.py): an epoch after the first then
    costs about the adapted layers only. Needs mode lora, packing and no DeepSpeed; ignored otherwise."""
    cache_max_mb: PositiveFloat = 2048.0
    """Memory cap of that cache (rows past it are recomputed each visit): rows x max_length x hidden size x 4 bytes
    (the default run: 381 rows x 256 x 576 x 4 = 214 MB)."""
    share_system_prompt: bool = True
    """With packing: examples that begin with the same system turn share one copy of it per row, each seeing it
    through a segment mask exactly as if alone (training/sft_data.pack_examples). The tool prompt (~120 tokens, the
    tool list) starts every tool conversation: shared, it is computed once per row instead of once per example."""
    logits_at_labels_only: bool = True
    """Compute LM-head logits only at positions whose next token is labelled (same loss, fewer FLOPs: the
    49k-vocabulary head is ~20% of SmolLM2-135M's forward); false = every position (tutorforge/training/sft_trainer.py)."""
    opening_tokens: NonNegInt = 4
    """The first N tokens of each training conversation's first assistant turn (all of it when it is a tool call) get
    loss weight `opening_weight` (0 = off). They decide what kind of reply it is (direct answer, guiding question,
    which tool with which arguments): sft_data.weight_opening."""
    opening_weight: PositiveFloat = 5.0
    """Loss weight of those tokens (1 = the plain loss); validation loss is never weighted."""
    max_length: PositiveInt = 256
    """Tokens per training sequence and per packed row."""
    truncation: str = "turns"
    """Longer conversations: turns (one sequence per assistant turn, context cut from the left) | right (cut the end)."""
    packing: bool = True
    """Pack examples into rows of max_length (block-diagonal attention) instead of padding."""
    batch_size: PositiveInt = 6
    """Rows per device per step."""
    grad_accum: PositiveInt = 1
    """Gradient accumulation steps."""
    learning_rate: PositiveFloat = 1e-3
    """Peak learning rate."""
    epochs: PositiveFloat = 2.0
    """Passes over the training rows (capped by max_steps)."""
    max_steps: int = -1
    """Cap on optimizer steps (-1 = none): steps = min(epochs * steps_per_epoch, max_steps)."""
    warmup: NonNegFloat = 0.05
    """Warmup: fraction of the steps (< 1) or a step count."""
    lr_scheduler: str = "cosine"
    """transformers scheduler name."""
    weight_decay: NonNegFloat = 0.0
    """AdamW weight decay."""
    eval_steps: NonNegInt = 50
    """Evaluate on the validation split every N steps (0: every `logging_steps`, transformers' rule)."""
    save_steps: NonNegInt = 50
    """Checkpoint every N steps (0: transformers' rule; smoke runs in tests use it)."""
    save_total_limit: NonNegInt = 2
    """Checkpoints kept (oldest rotated out)."""
    logging_steps: PositiveInt = 10
    """Log loss / lr / tokens_per_s every N steps."""
    max_eval_examples: NonNegInt = 256
    """Validation examples used (first N in file order)."""
    precision: str = "auto"
    """auto | bf16 | fp16 | fp32 (tutorforge.training.hardware.select_precision)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward (saves memory, costs ~30% time)."""
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)
    """DeepSpeed ZeRO {enabled, stage 0-3, offload} (<output>/checkpoints/ds_config.json); launch with torchrun."""
    resume: bool = True
    """Resume from the newest complete checkpoint when the fingerprint matches."""
    merge: bool = True
    """Write merged/ (adapter merged into full-precision base weights)."""
    profile: str = "cpu"
    """Hardware profile: key of `profiles` whose values override the fields above."""
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Named overrides, e.g. {gpu-l4: {batch_size: 16, max_length: 1024, gradient_checkpointing: true}}."""
    seed: int = 1337
    """Seed for torch/python/numpy, data order and LoRA init."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"sft.mode: {self.mode!r} not in {list(MODES)}")
        if self.truncation not in TRUNCATIONS:
            raise ValueError(f"sft.truncation: {self.truncation!r} not in {list(TRUNCATIONS)}")
        check_precision(self.precision, "sft.precision")


def resume_fingerprint(cfg: SFTConfig) -> str:
    """Fingerprint of the run (checkpoints.run_fingerprint): training knobs + the examples and every file of the
    base model and tokenizer dirs, so a checkpoint of different inputs/params is never resumed."""
    dirs = [Path(cfg.base_model)] + ([Path(cfg.tokenizer)] if cfg.tokenizer else [])
    files = [Path(cfg.train), Path(cfg.validation), *([Path(cfg.text)] if cfg.text else [])] + sorted(
        p for d in dirs for p in d.glob("*") if p.is_file()
    )
    return run_fingerprint(config_dict(cfg), NON_RESULT_FIELDS, files)


def load_model(cfg: SFTConfig, precision: str) -> Any:
    """Base model (4-bit NF4 for qlora) wrapped with LoRA (peft) unless mode is full."""
    import torch

    from tutorforge.training.models import load_causal_lm

    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if cfg.mode == "qlora":
        from transformers import BitsAndBytesConfig

        compute = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
        )
        kwargs["device_map"] = {"": torch.cuda.current_device()} if torch.cuda.is_available() else "cpu"
    model = load_causal_lm(cfg.base_model, **kwargs)
    model.config.use_cache = False  # a KV cache would disable the packed (block-diagonal) mask
    if cfg.mode == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.mode == "qlora":
        from bitsandbytes.nn.modules import Linear4bit

        for m in model.modules():  # bnb 0.50 on avx512_bf16 CPUs repacks 4-bit weights on the first eval forward
            if isinstance(m, Linear4bit):  # into a layout whose kernel has no autograd: later training
                m.support_avx512bf16_for_cpu = False  # then silently drops gradients through the base layers
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        bias="none",
        target_modules=list(cfg.target_modules),
        modules_to_save=list(cfg.modules_to_save) or None,
        layers_to_transform=_top_layers(model, cfg.lora_layers),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def install_frozen_cache(cfg: SFTConfig, model: Any) -> Any:
    """The installed frozen-layer cache for this run, or None where it does not apply (see cache_frozen_layers)."""
    from tutorforge.training.frozen_cache import FrozenLayerCache

    top = _top_layers(model, cfg.lora_layers)
    if not (cfg.cache_frozen_layers and cfg.packing) or cfg.mode != "lora" or top is None or cfg.deepspeed.enabled:
        return None
    cache = FrozenLayerCache(model, frozen=top[0], max_mb=cfg.cache_max_mb)
    cache.install()
    log.info("frozen-layer cache on layers 0-%d (up to %.0f MB)", top[0] - 1, cfg.cache_max_mb)
    return cache


def _top_layers(model: Any, n: int) -> list[int] | None:
    """Indices of the top `n` transformer layers (None = all: n is 0 or at least the layer count)."""
    total = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if n <= 0 or total == 0 or n >= total:
        return None
    return list(range(total - n, total))


def answer_loss(model: Any, rows: list[dict], collator: Any, batch_size: int, labels_only: bool = True) -> float:
    """Mean NLL per labelled (assistant) token over rows — the held-out 'answer loss'."""
    import torch

    from tutorforge.training.sft_trainer import supervised_nll

    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            batch = {k: v.to(model.device) for k, v in collator(rows[i : i + batch_size]).items()}
            nll, n = supervised_nll(model, batch, labels_only)
            total += nll.item()
            count += int(n)
    model.train(was_training)
    return total / max(count, 1)


def run_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Train, checkpoint/resume, save adapter + merged model + train_log + report; returns the report."""
    import random

    import numpy as np
    import torch
    from transformers import TrainerCallback

    from tutorforge.training import callbacks as C
    from tutorforge.training import hardware as H
    from tutorforge.training.deepspeed import deepspeed_config_file
    from tutorforge.training.models import load_tokenizer
    from tutorforge.training.sft_data import (
        PackedCollator,
        PaddedCollator,
        encode_records,
        pack_examples,
        text_windows,
    )
    from tutorforge.training.sft_trainer import build_trainer

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    ckpt_dir = Path(cfg.output) / "checkpoints"
    tok = load_tokenizer(cfg.tokenizer or cfg.base_model)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    recs = {s: list(read_jsonl(p)) for s, p in (("train", cfg.train), ("validation", cfg.validation))}
    if not recs["train"]:
        raise ValueError(f"{cfg.train}: no training examples")
    recs["validation"] = recs["validation"][: cfg.max_eval_examples]
    enc = {  # validation loss is never weighted
        s: encode_records(
            tok,
            r,
            cfg.max_length,
            cfg.truncation,
            opening_tokens=cfg.opening_tokens if s == "train" else 0,
            opening_weight=cfg.opening_weight,
        )
        for s, r in recs.items()
    }
    if cfg.text:
        windows = text_windows(tok, cfg.text, cfg.max_length)
        log.info(
            "%s: %d text windows (%d tokens) join the training examples",
            cfg.text,
            len(windows),
            sum(len(w["input_ids"]) for w in windows),
        )
        enc["train"] = (enc["train"][0] + windows, enc["train"][1])
    if tok.pad_token_id is None:
        raise ValueError(f"the tokenizer of {cfg.tokenizer or cfg.base_model} has no pad or eos token")
    collator = PackedCollator(tok.pad_token_id, cfg.max_length if cfg.cache_frozen_layers else None)
    collator = collator if cfg.packing else PaddedCollator(tok.pad_token_id)
    rows = {
        s: pack_examples(e, cfg.max_length, cfg.share_system_prompt) if cfg.packing else e for s, (e, _) in enc.items()
    }
    log.info(
        "encoded %d train / %d validation sequences (dropped %d / %d empty after truncation) -> %d / %d rows",
        len(enc["train"][0]),
        len(enc["validation"][0]),
        enc["train"][1],
        enc["validation"][1],
        len(rows["train"]),
        len(rows["validation"]),
    )

    precision = H.select_precision(cfg.precision)
    model = load_model(cfg, precision)
    max_pos = getattr(model.config, "max_position_embeddings", None)
    if max_pos and cfg.max_length > max_pos:
        raise ValueError(f"sft max_length {cfg.max_length} > the model's max_position_embeddings {max_pos}")
    # after the model check, so a run that cannot start leaves the checkpoints of the last one alone
    resume = prepare_resume(ckpt_dir, resume_fingerprint(cfg), cfg.resume, bool(H.dist_info()["is_main"]))
    if H.dist_info()["is_main"]:
        sweep_outputs(cfg.output, OUTPUTS)  # leftovers of a killed run go now, not at the end of this one
    log.info("resuming from %s" if resume else "no checkpoint to resume from%s", resume or "")
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in model.parameters())
    cache = install_frozen_cache(cfg, model)
    base_loss = (
        answer_loss(model, rows["validation"], collator, cfg.batch_size, cfg.logits_at_labels_only)
        if rows["validation"]
        else None
    )
    log.info(
        "mode=%s precision=%s trainable %d / %d params; base answer loss %s",
        cfg.mode,
        precision,
        n_trainable,
        n_total,
        base_loss,
    )
    steps_per_epoch = math.ceil(len(rows["train"]) / (cfg.batch_size * cfg.grad_accum))
    total_steps = math.ceil(steps_per_epoch * cfg.epochs)
    total_steps = min(total_steps, cfg.max_steps) if cfg.max_steps > 0 else total_steps
    ds = deepspeed_config_file(cfg.deepspeed, ckpt_dir, precision)
    args = dict(
        output_dir=str(ckpt_dir),
        max_steps=total_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup,
        weight_decay=cfg.weight_decay,
        eval_strategy="steps" if rows["validation"] else "no",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        activation_checkpointing=cfg.gradient_checkpointing,
        report_to=C.setup_tensorboard(ckpt_dir / "tensorboard"),
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
        deepspeed=ds,
        use_cache=False,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        **H.precision_flags(precision),
    )

    class Progress(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):  # noqa: ANN001, ANN202
            log.info(
                "step %d/%d %s",
                state.global_step,
                state.max_steps,
                {k: round(v, 4) for k, v in (logs or {}).items() if k in {"loss", "eval_loss", "tokens_per_s"}},
            )

    trainer = build_trainer(model, tok, args, rows, collator, cfg.logits_at_labels_only, callbacks=[Progress()])
    C.add_callback_first(trainer, C.throughput_callback(n_total))
    log.info(
        "training %d steps (%d rows/epoch, batch %d x accum %d)",
        total_steps,
        len(rows["train"]),
        cfg.batch_size,
        cfg.grad_accum,
    )
    result = trainer.train(resume_from_checkpoint=resume)
    sft_loss = (
        answer_loss(model, rows["validation"], collator, cfg.batch_size, cfg.logits_at_labels_only)
        if rows["validation"]
        else None
    )
    if cache is not None:
        cache.remove()  # before saving and merging: the layers' own forward again
        log.info("frozen-layer cache: %s", cache.stats)
        cache.clear()
    if not H.dist_info()["is_main"]:
        return {}
    return _save(
        cfg,
        trainer,
        tok,
        precision,
        {
            "mode": cfg.mode,
            "packing": cfg.packing,
            "precision": precision,
            "resumed_from": Path(resume).name if resume else None,
            "train_examples": len(enc["train"][0]),
            "train_rows": len(rows["train"]),
            "dropped_examples": enc["train"][1],
            "validation_examples": len(enc["validation"][0]),
            "steps": trainer.state.global_step,
            "epochs": round(trainer.state.epoch or 0.0, 4),
            "trainable_params": n_trainable,
            "total_params": n_total,
            "train_loss": round(result.training_loss, 6),
            "answer_loss_base": base_loss,
            "answer_loss_sft": sft_loss,
            "answer_loss_reduction": (1 - sft_loss / base_loss) if base_loss and sft_loss is not None else None,
            "frozen_cache_hits": cache.hits if cache is not None else 0,
        },
    )


def _save(cfg: SFTConfig, trainer: Any, tok: Any, precision: str, report: dict[str, Any]) -> dict[str, Any]:
    """Adapter (or full model), merged full-precision model + tokenizer, train_log.jsonl, report.json."""
    import torch

    from tutorforge.training.callbacks import train_log_records
    from tutorforge.training.models import load_causal_lm

    out = Path(cfg.output)
    report = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in report.items()}
    with replace_outputs(out, OUTPUTS) as outs:
        adapter = outs / "adapter"
        trainer.model.save_pretrained(adapter)
        tok.save_pretrained(adapter)
        if cfg.merge:
            if cfg.mode == "full":
                merged = load_causal_lm(adapter, dtype=torch.float32)
            else:
                from peft import PeftModel

                base = load_causal_lm(cfg.base_model, dtype=torch.float32)  # full precision, also for qlora
                merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
            merged.config.use_cache = True
            merged.save_pretrained(outs / "merged")
            tok.save_pretrained(outs / "merged")
        write_jsonl(outs / "train_log.jsonl", train_log_records(trainer.state.log_history))
        write_json(outs / "report.json", report)
    log.info(
        "answer loss %.4f -> %.4f (%.1f%% lower); wrote %s/{adapter,merged,train_log.jsonl,report.json}",
        report["answer_loss_base"] or float("nan"),
        report["answer_loss_sft"] or float("nan"),
        100 * (report["answer_loss_reduction"] or 0),
        out,
    )
    return report
