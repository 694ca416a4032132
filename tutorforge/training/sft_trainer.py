"""TRL's SFTTrainer with the two pieces TRL cannot give us on a CPU: our packed rows, and logits only where a label is.

    trainer = build_trainer(model, tok, args_kwargs, rows, collator, labels_only=True)   # see tutorforge/training/sft.py
    trainer.train()

A packed row from tutorforge/training/sft_data.py looks like
    {"input_ids": [1, 9690, ...], "labels": [-100, ..., 504, 2], "position_ids": [0, 1, ..., 0, 1, ...]}
(position_ids restart at 0 for every example; no attention_mask: transformers turns restarting positions into a
block-diagonal causal mask for sdpa/eager attention, so no token attends across examples; tests/test_sft.py proves it
by logit equality against each example run alone).

What stays ours, and why (TRL 1.16):
- Packing and collation. TRL's BFD packing switches to padding-free collation, which concatenates a whole batch into ONE
  row (batch x max_length tokens) for flash-attention's varlen kernels; without flash attention (CPU, sdpa) that row
  gets one (B*L)^2 attention mask, ~8x the attention work of B rows of L. So the dataset is handed to TRL already
  tokenized and packed (`skip_prepare_dataset`) with our collator.
- The loss. TRL's `fused_lm_head` forward scores every position (log-probs, entropy, top-1) over the 49k vocabulary;
  on SmolLM2-135M the LM head is ~20 % of the forward FLOPs and only ~25 % of the positions carry a label. We ask the
  model for logits at the labelled positions only (`logits_to_keep` with an index tensor: the union over the batch's
  rows of positions whose next token is labelled) and take the mean token NLL there. The numbers are the same as the
  full-logits loss (tests/test_sft_trainer.py); benchmarks/train.py measures the speed.
Everything else (optimizer, schedule, accumulation, checkpoints/resume, evaluation, logging, DeepSpeed) is TRL's and
transformers' Trainer.
"""

from __future__ import annotations

from typing import Any

IGNORE_INDEX = -100


def labelled_positions(labels: Any) -> Any:
    """Positions t (of the input) whose NEXT token is labelled in any row: where logits are needed for the loss."""
    return (labels[:, 1:] != IGNORE_INDEX).any(0).nonzero().squeeze(1)


def supervised_nll(model: Any, inputs: dict[str, Any], labels_only: bool = True) -> tuple[Any, Any]:
    """(sum of token NLL over labelled tokens, number of labelled tokens) for a batch with `labels`.

    labels_only: compute logits at the labelled positions only (same value, fewer FLOPs); False: all positions.
    A batch with `loss_weights` (per input token, as labels; sft_data.weight_opening) sums weight x NLL instead; the
    count stays the number of labelled tokens, so weight 1 everywhere is the plain loss."""
    import torch

    labels = inputs["labels"]
    weights = inputs.get("loss_weights")
    model_inputs = {k: v for k, v in inputs.items() if k not in {"labels", "n_tokens", "loss_weights"}}
    mask = model_inputs.get("attention_mask")
    if mask is not None and mask.dim() == 4 and getattr(model.config, "_attn_implementation", "sdpa") != "sdpa":
        # a segment mask (shared system turns, sft_data.pack_examples) is bool, as sdpa takes it; eager adds it
        model_inputs["attention_mask"] = torch.zeros(mask.shape, dtype=model.dtype).masked_fill(
            ~mask, torch.finfo(model.dtype).min
        )
    target = labels[:, 1:]
    weight = weights[:, 1:] if weights is not None else None
    if labels_only:
        keep = labelled_positions(labels)
        logits = model(**model_inputs, use_cache=False, logits_to_keep=keep).logits
        target = target[:, keep]
        weight = weight[:, keep] if weight is not None else None
    else:
        logits = model(**model_inputs, use_cache=False).logits[:, :-1]
    flat = logits.float().reshape(-1, logits.shape[-1])
    if weight is None:
        nll = torch.nn.functional.cross_entropy(flat, target.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    else:
        token_nll = torch.nn.functional.cross_entropy(
            flat, target.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
        )
        nll = (token_nll * weight.reshape(-1).to(token_nll.dtype)).sum()
    return nll, (target != IGNORE_INDEX).sum()


def build_trainer(
    model: Any,
    tokenizer: Any,
    args: dict[str, Any],
    rows: dict[str, list[dict[str, list[int]]]],
    collator: Any,
    labels_only: bool,
    callbacks: list[Any] | None = None,
) -> Any:
    """A trl.SFTTrainer over pre-packed `rows` {"train": [...], "validation": [...]} with `args` (trl.SFTConfig
    fields: transformers TrainingArguments plus TRL's) and our loss."""
    import torch
    from datasets import Dataset
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    from tutorforge.training.hardware import dist_info

    class TutorSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN202
            nll, count = supervised_nll(model, inputs, labels_only)
            # with gradient accumulation transformers passes the labelled-token count of the whole step
            denom = num_items_in_batch if num_items_in_batch is not None and model.training else count
            loss = nll / torch.as_tensor(denom, device=nll.device).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None and model.training:
                loss = loss * self.accelerator.num_processes
            return (loss, None) if return_outputs else loss

        def _track_num_input_tokens(self, inputs):  # noqa: ANN001, ANN202  (useful = non-pad tokens)
            self.state.num_input_tokens_seen += int(inputs["n_tokens"]) * dist_info()["world_size"]

    config = SFTConfig(
        **{"bf16": False, "fp16": False, **args},  # TRL defaults to bf16; precision is the caller's choice
        packing=False,  # rows come packed (see the module docstring)
        padding_free=False,
        max_length=None,  # rows are at most sft.max_length already
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,  # keep position_ids
        assistant_only_loss=False,  # labels are built by tutorforge/training/sft_data.py
    )
    return TutorSFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows["train"]),
        eval_dataset=Dataset.from_list(rows["validation"]) if rows["validation"] else None,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
