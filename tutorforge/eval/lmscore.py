"""Scoring and greedy generation with a causal LM: token NLLs, sliding-window perplexity, option log-likelihoods,
chat-formatted prompt/answer pairs and batched greedy decoding. Shared by `evaluate` (and usable by `select`).

Import-light: torch is imported inside the functions.

    from tutorforge.eval.lmscore import (sliding_windows, score_sequences, chat_prompt_answer, stop_token_ids,
        generate_greedy, fit)
    fit(encode(tok, "Question: ...\nAnswer:"), encode(tok, " 42"), max_len=256)  # (ids, mask of the answer tokens)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Scored = tuple[float, int]  # (sum of NLL in nats, number of scored tokens)


def sliding_windows(ids: list[int], block_size: int, stride: int) -> list[tuple[list[int], list[bool]]]:
    """Cut one token sequence into windows of <= block_size tokens, each starting `stride` after the previous.

    Each window's mask marks the tokens it scores: every token except the very first is scored exactly once, with
    up to block_size - 1 tokens of context (the HF "perplexity of fixed-length models" recipe).
    """
    if not 0 < stride < block_size:
        raise ValueError(f"need 0 < stride < block_size, got stride={stride} block_size={block_size}")
    windows: list[tuple[list[int], list[bool]]] = []
    prev_end = 0
    for begin in range(0, max(len(ids) - 1, 1), stride):
        end = min(begin + block_size, len(ids))
        window = ids[begin:end]
        new = end - prev_end  # tokens not scored by an earlier window
        mask = [i > 0 and i >= len(window) - new for i in range(len(window))]
        if any(mask):
            windows.append((window, mask))
        prev_end = end
        if end == len(ids):
            break
    return windows


def score_sequences(
    model: Any, items: list[tuple[list[int], list[bool]]], batch_size: int = 8, pad_id: int = 0
) -> list[Scored]:
    """Sum of -log p(token | previous tokens) over each item's masked tokens, in input order. Position 0 is never
    scored (nothing predicts it).

    Items whose unscored prefix is the same token for token (the options of a multiple-choice, MMLU or subject
    question: one prompt, several short continuations) are scored as a group: the prefix runs once and its KV cache
    serves every continuation, so a question costs its prompt once instead of once per option (~3x fewer tokens on
    MMLU; benchmarks/evaluate.py measures it). The rest are batched with right padding, longest first.
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (seq, mask) in enumerate(items):
        first = next((k for k, m in enumerate(mask) if m), 0)
        if first >= 1:
            groups.setdefault(tuple(seq[:first]), []).append(i)
    shared = sorted(((p, idx) for p, idx in groups.items() if len(idx) > 1), key=lambda g: (-len(g[0]), g[1][0]))
    out: list[Scored] = [(0.0, 0)] * len(items)
    for start in range(0, len(shared), batch_size):  # batch_size questions (prompts) per forward
        chunk = shared[start : start + batch_size]
        scored = _score_continuations(
            model, [(list(p), [items[i] for i in idx]) for p, idx in chunk], pad_id, batch_size
        )
        for (_, idx), group in zip(chunk, scored, strict=True):
            for i, sc in zip(idx, group, strict=True):
                out[i] = sc
    done = {i for _, idx in shared for i in idx}
    rest = [i for i in range(len(items)) if i not in done]
    for i, sc in zip(rest, _score_padded(model, [items[i] for i in rest], batch_size, pad_id), strict=True):
        out[i] = sc
    return out


def _score_continuations(
    model: Any, groups: list[tuple[list[int], list[tuple[list[int], list[bool]]]]], pad_id: int, batch_size: int
) -> list[list[Scored]]:
    """Score groups of items that start with their group's (unscored) prefix: one forward over the prefixes (left-
    padded, so each ends at the last column and only that column's logits are computed), then the continuations,
    shortest first in batches of `batch_size` (options differ in length: one long option would pad all the others),
    each row on a copy of its own prefix's KV cache; positions continue after the prefix."""
    import torch
    from transformers import DynamicCache

    n_pre = max(len(p) for p, _ in groups)
    rows = [(g, seq[len(p) :], mask[len(p) :]) for g, (p, members) in enumerate(groups) for seq, mask in members]
    pre_ids = torch.full((len(groups), n_pre), pad_id, dtype=torch.long)
    pre_attn = torch.zeros((len(groups), n_pre), dtype=torch.long)
    for g, (p, _) in enumerate(groups):
        pre_ids[g, n_pre - len(p) :] = torch.tensor(p, dtype=torch.long)
        pre_attn[g, n_pre - len(p) :] = 1
    out: list[list[Scored]] = [[(0.0, 0)] * len(members) for _, members in groups]
    slot = [k for _, members in groups for k in range(len(members))]  # each row's place in its group
    model.eval()
    with torch.inference_mode():
        pre_pos = (pre_attn.cumsum(-1) - 1).clamp(min=0)
        head = model(input_ids=pre_ids, attention_mask=pre_attn, position_ids=pre_pos, use_cache=True, logits_to_keep=1)
        first_logp = torch.log_softmax(head.logits[:, -1].float(), dim=-1)  # predicts each continuation's 1st token
        kv = [(layer.keys, layer.values) for layer in head.past_key_values.layers]
        order = sorted(range(len(rows)), key=lambda r: (len(rows[r][1]), r))
        for start in range(0, len(order), batch_size):
            sub = order[start : start + batch_size]
            owner = torch.tensor([rows[r][0] for r in sub])
            cache = DynamicCache(ddp_cache_data=[(k[owner], v[owner]) for k, v in kv])
            width = max(len(rows[r][1]) for r in sub)
            ids = torch.full((len(sub), width), pad_id, dtype=torch.long)
            cont_attn = torch.zeros((len(sub), width), dtype=torch.long)
            for j, r in enumerate(sub):
                ids[j, : len(rows[r][1])] = torch.tensor(rows[r][1], dtype=torch.long)
                cont_attn[j, : len(rows[r][1])] = 1
            attn = torch.cat([pre_attn[owner], cont_attn], dim=1)
            pos = pre_attn.sum(-1)[owner].unsqueeze(1) + torch.arange(width).unsqueeze(0)
            logits = model(input_ids=ids, attention_mask=attn, position_ids=pos, past_key_values=cache).logits
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            for j, r in enumerate(sub):
                g, cont, m = rows[r]
                lps = [float(first_logp[g, cont[0]])] + [float(x) for x in logp[j, : len(cont) - 1]]
                out[g][slot[r]] = (-sum(lp for lp, keep in zip(lps, m, strict=True) if keep), sum(map(bool, m)))
    return out


def _score_padded(model: Any, items: list[tuple[list[int], list[bool]]], batch_size: int, pad_id: int) -> list[Scored]:
    import torch

    out: list[Scored] = [(0.0, 0)] * len(items)
    order = sorted(range(len(items)), key=lambda i: (-len(items[i][0]), i))
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(items[i][0]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.bool)
            for row, i in enumerate(idx):
                seq, m = items[i]
                ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                attn[row, : len(seq)] = 1
                mask[row, : len(seq)] = torch.tensor(m, dtype=torch.bool)
            logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
            logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            m = mask[:, 1:]
            nll = -(logp * m).sum(dim=1)
            for row, i in enumerate(idx):
                out[i] = (float(nll[row]), int(m[row].sum()))
    return out


def render_chat(tokenizer: Any, messages: list[dict[str, Any]], add_generation_prompt: bool = False) -> str:
    """The tokenizer's chat template as text; a plain `role: content` layout when the tokenizer has none."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    text = "".join(f"{m['role']}: {m.get('content') or ''}\n" for m in messages)
    return text + ("assistant: " if add_generation_prompt else "")


def chat_prompt_answer(tokenizer: Any, messages: list[dict[str, Any]]) -> tuple[str, str]:
    """Split a conversation ending in an assistant turn into (prompt text, answer text) as the template renders them.

    The prompt is the conversation before the last turn plus the generation prompt; the answer is the rest of the
    full rendering (the assistant content, tool calls and end-of-turn marker), so the answer tokens are exactly
    what a chat-tuned model is trained to produce.
    """
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError("conversation must end with an assistant message")
    prompt = render_chat(tokenizer, messages[:-1], add_generation_prompt=True)
    full = render_chat(tokenizer, messages)
    if full.startswith(prompt):  # the template's newline after the end-of-turn token is not trained: drop it
        answer = full[len(prompt) :]
        return prompt, answer.rstrip() or answer
    return prompt, (messages[-1].get("content") or "") + (tokenizer.eos_token or "")


def fit(prompt_ids: list[int], answer_ids: list[int], max_len: int) -> tuple[list[int], list[bool]]:
    """prompt + answer as one scored item of at most max_len tokens: the answer (capped) is kept whole and the prompt
    loses tokens from the left; the mask marks the answer tokens."""
    answer_ids = answer_ids[: max_len - 1]
    prompt_ids = prompt_ids[-(max_len - len(answer_ids)) :]
    return prompt_ids + answer_ids, [False] * len(prompt_ids) + [True] * len(answer_ids)


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of text that already holds its special tokens (chat templates write BOS etc. themselves)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def stop_token_ids(tokenizer: Any, model: Any = None) -> list[int]:
    """EOS ids of the tokenizer/generation config plus the chat template's end-of-turn token (if it is special)."""
    ids: set[int] = set()
    for source in (tokenizer.eos_token_id, getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if isinstance(source, int):
            ids.add(source)
        elif isinstance(source, list):
            ids.update(int(x) for x in source)
    if getattr(tokenizer, "chat_template", None):
        marker = "\x00ANSWER\x00"
        _, answer = chat_prompt_answer(
            tokenizer, [{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}]
        )
        tail = answer.split(marker, 1)[-1]
        tail_ids = encode(tokenizer, tail) if tail.strip() else []
        special = set(getattr(tokenizer, "all_special_ids", []))
        special.update(int(i) for i in getattr(tokenizer, "added_tokens_decoder", {}))
        if tail_ids and tail_ids[0] in special:
            ids.add(tail_ids[0])
    return sorted(ids)


def generate_greedy(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int = 48,
    batch_size: int = 8,
    max_length: int | None = None,
    stop_ids: list[int] | None = None,
    logits_processor: Callable[[], Any] | None = None,
) -> list[dict[str, Any]]:
    """Greedy-decode each prompt (batched, left-padded); returns {text, new_tokens, latency_s, batch} per prompt in order.

    Prompts are left-truncated to fit max_length - max_new_tokens. A response's latency is the wall time of its
    batch (every response of a batch arrives together); new_tokens counts tokens up to and including the first stop
    token. Deterministic: no sampling. `logits_processor` makes a fresh transformers LogitsProcessor per batch (e.g.
    tools.constrained.ToolCallGrammar.logits_processor: grammar-constrained decoding).
    """
    import torch

    stop = stop_ids if stop_ids is not None else stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stop[0] if stop else 0)
    limit = (max_length or 10**9) - max_new_tokens
    encoded = [encode(tokenizer, p)[-limit:] if limit > 0 else encode(tokenizer, p) for p in prompts]
    out: list[dict[str, Any]] = [{}] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: (-len(encoded[i]), i))
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attn = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, width - len(encoded[i]) :] = torch.tensor(encoded[i], dtype=torch.long)
                attn[row, width - len(encoded[i]) :] = 1
            t0 = time.perf_counter()
            gen = model.generate(
                input_ids=ids,
                attention_mask=attn,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                eos_token_id=stop or None,
                pad_token_id=pad_id,
                **({"logits_processor": [logits_processor()]} if logits_processor else {}),
            )
            latency = time.perf_counter() - t0
            for row, i in enumerate(idx):
                new = gen[row, width:].tolist()
                cut = next((k + 1 for k, t in enumerate(new) if t in stop), len(new))
                text = tokenizer.decode(new[:cut], skip_special_tokens=True).strip()
                out[i] = {"text": text, "new_tokens": cut, "latency_s": latency, "batch": start // batch_size}
    return out
