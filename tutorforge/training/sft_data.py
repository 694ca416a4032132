"""Chat records -> token ids with assistant-only labels, packing into rows, and collators (SFT stage + benchmark).

Labels: tokens the assistant writes (its text and its tool calls, up to and including its end-of-turn token when the
template puts it inside the turn) keep their id; system/user/tool tokens get -100. With `{% generation %}` markers in
the chat template the mask comes from `return_assistant_tokens_mask`; templates without markers (e.g. SmolLM2's) fall
back to prefix rendering: the characters between `render(messages[:i], add_generation_prompt=True)` and
`render(messages[:i+1])` belong to assistant turn i.

Packing: examples are placed into rows of at most `max_length` tokens (best-fit decreasing) with `position_ids`
restarting at 0 for every example and NO `attention_mask`. transformers (>= 4.5x, checked in 5.23
`masking_utils.find_packed_sequence_indices`) then turns the position_ids into a block-diagonal causal mask for
sdpa/eager/flex attention, so no token attends across examples (proved by tests/test_sft.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

IGNORE_INDEX = -100
TRUNCATIONS = ("turns", "right")  # how a conversation longer than max_length is cut (see encode_example)
_GENERATION = re.compile(r"{%-?\s*generation\s*-?%}")


def has_generation_markers(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template marks assistant content with {% generation %}."""
    return bool(_GENERATION.search(tokenizer.chat_template or ""))


def normalise_messages(messages: Sequence[dict[str, Any]], template: str) -> list[dict[str, Any]]:
    """Drop None fields; if the template cannot render `tool_calls`, append them to the content as JSON text."""
    out = []
    for m in messages:
        m = {k: v for k, v in m.items() if v is not None}
        if m.get("tool_calls") and "tool_calls" not in template:
            calls = "".join(
                f"<tool_call>{json.dumps(c, ensure_ascii=False, sort_keys=True)}</tool_call>"
                for c in m.pop("tool_calls")
            )
            m["content"] = (m.get("content") or "") + calls
        m.setdefault("content", "")
        out.append(m)
    return out


def _prefix_spans(tokenizer: Any, messages: list[dict[str, Any]], text: str) -> list[tuple[int, int]]:
    """Character spans [start, end) of the assistant turns, from rendering growing prefixes of the conversation."""
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True) if i else ""
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not (text.startswith(before) and text.startswith(upto) and len(before) <= len(upto)):
            raise ValueError(
                "chat template renders prefixes of a conversation inconsistently; "
                "add {% generation %}...{% endgeneration %} markers to it"
            )
        spans.append((len(before), len(upto)))
    return spans


def _ids_and_mask(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """Token ids of the whole rendered conversation and its assistant mask (1 = token the assistant writes)."""
    msgs = normalise_messages(messages, tokenizer.chat_template or "")
    if has_generation_markers(tokenizer):
        enc = tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
        return list(enc["input_ids"]), list(enc["assistant_masks"])
    text = tokenizer.apply_chat_template(msgs, tokenize=False)
    spans = _prefix_spans(tokenizer, msgs, text)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [int(any(a <= s < b for a, b in spans)) for s, _ in enc["offset_mapping"]]


def _runs(mask: Sequence[int]) -> list[tuple[int, int]]:
    """[start, end) of the runs of 1s in mask (one per assistant turn)."""
    runs, start = [], None
    for i, m in enumerate([*mask, 0]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            runs.append((start, i))
            start = None
    return runs


def encode_example(
    tokenizer: Any, messages: Sequence[dict[str, Any]], max_length: int, truncation: str = "turns"
) -> list[dict[str, list[int]]]:
    """Training sequences (input_ids + labels, -100 outside assistant turns) of one conversation, each <= max_length.

    A conversation that fits is one sequence. A longer one, with truncation="turns", gives one sequence per assistant
    turn: the turn (its first max_length - 1 tokens) with as much of the conversation before it as fits, cut from the
    left, and labels on that turn only. This is how evaluation scores an answer (prompt cut from the left), and it keeps
    the final answer of a long tool dialogue, which truncation="right" (keep the first max_length tokens) cuts away.
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be turns|right, got {truncation!r}")
    ids, mask = _ids_and_mask(tokenizer, messages)
    if len(ids) <= max_length or truncation == "right":
        ids, mask = ids[:max_length], mask[:max_length]
        return [{"input_ids": ids, "labels": [t if k else IGNORE_INDEX for t, k in zip(ids, mask, strict=True)]}]
    out = []
    for start, end in _runs(mask):
        end = min(end, start + max_length - 1)  # >= 1 context token (the assistant header) before the turn
        lo = max(0, end - max_length)
        window = ids[lo:end]
        out.append(
            {"input_ids": window, "labels": [t if start <= lo + i else IGNORE_INDEX for i, t in enumerate(window)]}
        )
    return out


def encode_records(
    tokenizer: Any, records: Sequence[dict[str, Any]], max_length: int, truncation: str = "turns"
) -> tuple[list[dict], int]:
    """Encode all records (see encode_example); drops (and counts) those left with no labelled token."""
    out, dropped = [], 0
    for rec in records:
        if not rec.get("messages"):
            raise ValueError(f"record {rec.get('example_id', '?')} has no messages")
        seqs = [
            ex
            for ex in encode_example(tokenizer, rec["messages"], max_length, truncation)
            if any(t != IGNORE_INDEX for t in ex["labels"])
        ]
        out += seqs
        dropped += not seqs
    return out, dropped


def pack_bins(lengths: Sequence[int], max_length: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing of example indices into rows of <= max_length tokens (deterministic)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[int] = []
    for i in order:
        n = min(lengths[i], max_length)
        best = -1
        for b, room in enumerate(free):
            if n <= room and (best < 0 or room < free[best]):
                best = b
        if best < 0:
            bins.append([i])
            free.append(max_length - n)
        else:
            bins[best].append(i)
            free[best] -= n
    return bins


def pack_examples(examples: Sequence[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """Rows of concatenated examples with position_ids restarting at 0 per example."""
    rows = []
    for b in pack_bins([len(e["input_ids"]) for e in examples], max_length):
        row: dict[str, list[int]] = {"input_ids": [], "labels": [], "position_ids": []}
        for i in b:
            ex = examples[i]
            row["input_ids"] += ex["input_ids"]
            row["labels"] += ex["labels"]
            row["position_ids"] += list(range(len(ex["input_ids"])))
        rows.append(row)
    return rows


class PackedCollator:
    """Packed rows -> tensors; pads to the longest row in the batch (pad = a new segment, label -100), no attention_mask."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, pos = [], [], []
        for r in rows:
            k = width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * k)
            labels.append(r["labels"] + [IGNORE_INDEX] * k)
            pos.append(r["position_ids"] + list(range(k)))
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "position_ids": torch.tensor(pos),
            "n_tokens": torch.tensor(sum(len(r["input_ids"]) for r in rows)),
        }


class PaddedCollator:
    """One example per row, right-padded to the longest example in the batch, with an attention_mask."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids, labels, att = [], [], []
        for r in rows:
            n, k = len(r["input_ids"]), width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * k)
            labels.append(r["labels"] + [IGNORE_INDEX] * k)
            att.append([1] * n + [0] * k)
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(att),
            "n_tokens": torch.tensor(sum(att_row.count(1) for att_row in att)),
        }
