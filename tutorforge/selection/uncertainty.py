"""Batched model uncertainty for active learning: subject margins of sections, greedy answers of questions, embeddings.

All functions take a loaded causal LM + tokenizer and work in batches of `batch_size` (1 = one item at a time, the
benchmark's baseline). Items are sorted by length inside a call so that padding stays small; results come back in
input order. Deterministic: greedy decoding, no sampling.
"""

from __future__ import annotations

import math
from typing import Any

from tutorforge.core.logs import get_logger, progress

log = get_logger(__name__)


def _batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch_size] for i in range(0, len(order), max(1, batch_size))]


def _ids(tok: Any, text: str, max_tokens: int, keep: str = "head") -> list[int]:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if len(ids) > max_tokens:
        ids = ids[:max_tokens] if keep == "head" else ids[-max_tokens:]
    return ids


def _pad_id(tok: Any) -> int:
    return tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)


def subject_scores(
    model: Any,
    tok: Any,
    prompts: list[str],
    subjects: list[str],
    batch_size: int,
    max_prompt_tokens: int,
    desc: str = "score subjects",
) -> list[dict[str, Any]]:
    """Per prompt: softmax over subjects of log p(" <subject>" | prompt); top subject, confidence, margin.

    Each prompt runs once and every subject is scored on its KV cache (eval/lmscore.score_sequences): scoring the four
    prompt + subject sequences separately took 40 of the default run's 80 s select stage."""
    import torch

    from tutorforge.eval.lmscore import score_sequences

    subj_ids = [tok(" " + s, add_special_tokens=False)["input_ids"] for s in subjects]
    prompt_ids = [_ids(tok, p, max_prompt_tokens, keep="head") for p in prompts]
    pad = _pad_id(tok)
    logp = torch.zeros(len(prompts), len(subjects))
    for batch in progress(_batches([len(p) for p in prompt_ids], batch_size), desc, logger=log):
        items = [
            (prompt_ids[i] + subj_ids[k], [False] * len(prompt_ids[i]) + [True] * len(subj_ids[k]))
            for i in batch
            for k in range(len(subjects))
        ]
        scored = score_sequences(model, items, batch_size, pad)
        for j, i in enumerate(batch):
            for k in range(len(subjects)):
                logp[i, k] = -scored[j * len(subjects) + k][0]
    out = []
    probs = torch.softmax(logp, dim=-1)
    for i in range(len(prompts)):
        p, idx = probs[i].sort(descending=True)
        second = float(p[1]) if len(subjects) > 1 else 0.0
        out.append(
            {
                "subject": subjects[int(idx[0])],
                "runner_up": subjects[int(idx[1])] if len(subjects) > 1 else None,
                "confidence": float(p[0]),
                "margin": float(p[0]) - second,
                "probs": {subjects[k]: float(probs[i, k]) for k in range(len(subjects))},
            }
        )
    return out


def answer_scores(
    model: Any,
    tok: Any,
    prompts: list[str],
    batch_size: int,
    max_prompt_tokens: int,
    max_new_tokens: int,
    stop_ids: list[int],
    desc: str = "answer questions",
) -> list[dict[str, Any]]:
    """Greedy answers (left-padded batches) with mean token log-probability, confidence and mean entropy."""
    import torch

    prompt_ids = [_ids(tok, p, max_prompt_tokens, keep="tail") for p in prompts]
    pad = _pad_id(tok)
    out: list[dict[str, Any]] = [{} for _ in prompts]
    for batch in progress(_batches([len(p) for p in prompt_ids], batch_size), desc, logger=log):
        n = max(len(prompt_ids[j]) for j in batch)
        ids = torch.full((len(batch), n), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for r, j in enumerate(batch):  # left padding for generation
            ids[r, n - len(prompt_ids[j]) :] = torch.tensor(prompt_ids[j])
            mask[r, n - len(prompt_ids[j]) :] = 1
        with torch.no_grad():
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=pad,
                eos_token_id=stop_ids or None,
            )
        new = gen.sequences[:, n:]
        logits = torch.stack(gen.logits, dim=1).float()  # (batch, steps, vocab)
        lp = torch.log_softmax(logits, dim=-1)
        chosen = lp.gather(2, new[:, : logits.shape[1], None]).squeeze(2)
        ent = -(lp.exp() * lp).sum(-1)
        for r, j in enumerate(batch):
            toks = new[r].tolist()
            end = next((k + 1 for k, t in enumerate(toks) if t in stop_ids), len(toks))
            mlp = float(chosen[r, :end].mean()) if end else 0.0
            out[j] = {
                "answer": tok.decode(
                    [t for t in toks[:end] if t not in stop_ids and t != pad], skip_special_tokens=True
                ).strip(),
                "mean_logprob": mlp,
                "confidence": math.exp(mlp),
                "mean_entropy": float(ent[r, :end].mean()),
                "tokens": end,
            }
    return out


def lm_embeddings(model: Any, tok: Any, texts: list[str], batch_size: int, max_tokens: int) -> Any:
    """Mean-pooled last hidden states of the LM (L2-normalised numpy array)."""
    import numpy as np
    import torch

    ids_list = [_ids(tok, t, max_tokens) or [_pad_id(tok)] for t in texts]
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for batch in progress(_batches([len(x) for x in ids_list], batch_size), "embed (LM)", logger=log):
        n = max(len(ids_list[j]) for j in batch)
        ids = torch.full((len(batch), n), _pad_id(tok), dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for r, j in enumerate(batch):
            ids[r, : len(ids_list[j])] = torch.tensor(ids_list[j])
            mask[r, : len(ids_list[j])] = 1
        with torch.no_grad():
            h = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1].float()
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        for r, j in enumerate(batch):
            out[j] = pooled[r].numpy()
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)
