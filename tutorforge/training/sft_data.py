"""Chat records -> token ids with assistant-only labels, packing into rows, and collators (SFT stage + benchmark).

Labels: tokens the assistant writes (its text and its tool calls, up to and including its end-of-turn token when the
template puts it inside the turn) keep their id; system/user/tool tokens get -100. With `{% generation %}` markers in
the chat template the mask comes from `return_assistant_tokens_mask`; templates without markers (e.g. SmolLM2's) fall
back to prefix rendering: the characters between `render(messages[:i], add_generation_prompt=True)` and
`render(messages[:i+1])` belong to assistant turn i.

Packing: examples are placed into rows of at most `max_length` tokens (best-fit decreasing) with `position_ids`
restarting at 0 for every example and NO `attention_mask`. transformers (>= 4.5x, checked in 5.23
`masking_utils.find_packed_sequence_indices`) then turns the position_ids into a block-diagonal causal mask for
sdpa/eager/flex attention, so no token attends across examples (proved by tests/test_sft.py). With
`share_prefixes`, examples that start with the same system turn share one copy of it per row and the collator passes
an explicit 4-D segment mask instead (pack_examples; tests/test_sft.py proves each example sees what it sees alone).
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
) -> list[dict[str, Any]]:
    """Training sequences (input_ids + labels, -100 outside assistant turns) of one conversation, each <= max_length.

    A conversation that fits is one sequence. A longer one, with truncation="turns", gives one sequence per assistant
    turn: the turn (its first max_length - 1 tokens) with as much of the conversation before it as fits, cut from the
    left, and labels on that turn only. This is how evaluation scores an answer (prompt cut from the left), and it keeps
    the final answer of a long tool dialogue, which truncation="right" (keep the first max_length tokens) cuts away.
    """
    if truncation not in TRUNCATIONS:
        raise ValueError(f"truncation must be turns|right, got {truncation!r}")
    ids, mask = _ids_and_mask(tokenizer, messages)
    head = _system_turn_ids(tokenizer, messages)
    if len(ids) <= max_length or truncation == "right":
        ids, mask = ids[:max_length], mask[:max_length]
        labels = [t if k else IGNORE_INDEX for t, k in zip(ids, mask, strict=True)]
        return [{"input_ids": ids, "labels": labels, "prefix_len": _prefix_len(ids, labels, head)}]
    out = []
    for start, end in _runs(mask):
        end = min(end, start + max_length - 1)  # >= 1 context token (the assistant header) before the turn
        lo = max(0, end - max_length)
        window = ids[lo:end]
        labels = [t if start <= lo + i else IGNORE_INDEX for i, t in enumerate(window)]
        out.append({"input_ids": window, "labels": labels, "prefix_len": _prefix_len(window, labels, head)})
    return out


def _system_turn_ids(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> list[int]:
    """Token ids of the conversation's system turn as the template renders it alone ([] without one)."""
    if not messages or messages[0].get("role") != "system":
        return []
    msgs = normalise_messages(messages[:1], tokenizer.chat_template or "")
    return list(tokenizer(tokenizer.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)["input_ids"])


def _prefix_len(ids: list[int], labels: list[int], head: list[int]) -> int:
    """len(head) if the sequence starts with it, unlabelled, and goes on past it (a window cut from the left does not
    start with the system turn), else 0: the part pack_examples may share between sequences."""
    n = len(head)
    ok = 0 < n < len(ids) and ids[:n] == head and all(x == IGNORE_INDEX for x in labels[:n])
    return n if ok else 0


def encode_records(
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    max_length: int,
    truncation: str = "turns",
    opening_tokens: int = 0,
    opening_weight: float = 1.0,
) -> tuple[list[dict], int]:
    """Encode all records (see encode_example); drops (and counts) those left with no labelled token.

    opening_tokens/opening_weight: the first `opening_tokens` labelled tokens of each conversation's first assistant
    turn, or all of it when that turn is a tool call, get loss weight `opening_weight` (a per-token "weights" list
    beside the labels; see weight_opening)."""
    out, dropped = [], 0
    for rec in records:
        if not rec.get("messages"):
            raise ValueError(f"record {rec.get('example_id', '?')} has no messages")
        seqs = [
            ex
            for ex in encode_example(tokenizer, rec["messages"], max_length, truncation)
            if any(t != IGNORE_INDEX for t in ex["labels"])
        ]
        if seqs and opening_tokens and opening_weight != 1.0:
            first = next((m for m in rec["messages"] if m.get("role") == "assistant"), {})
            weight_opening(seqs[0], None if first.get("tool_calls") else opening_tokens, opening_weight)
        out += seqs
        dropped += not seqs
    return out, dropped


def weight_opening(example: dict[str, Any], n_tokens: int | None, weight: float) -> dict[str, Any]:
    """Give the first `n_tokens` labelled tokens (None: the whole turn) of the example's first assistant turn loss
    weight `weight` (in place; every other token keeps 1.0).

    Why: those few tokens decide what kind of reply it is (a direct answer, a guiding question, a tool call), and they
    are ~2 % of the supervised tokens; the rest are template wording that the model learns anyway. Weighted up, the
    model learns to take that decision from the system prompt, which is the only thing that tells a plain twin from
    its Socratic original (synth.dialogues.plain_twins). In a tool call every token is such a decision (which tool,
    which model_id): with the openings of text replies weighted and the calls not, tool-call accuracy on the
    benchmark fell from 0.92 to 0.62 (issue 13), so the stage weights a first turn that is a call in full."""
    labels = example["labels"]
    weights = example.setdefault("weights", [1.0] * len(labels))
    first = next((i for i, t in enumerate(labels) if t != IGNORE_INDEX), None)
    if first is None:
        return example
    for i in range(first, len(labels) if n_tokens is None else min(first + n_tokens, len(labels))):
        if labels[i] == IGNORE_INDEX:  # the turn was shorter
            break
        weights[i] = float(weight)
    return example


def encode_texts(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[dict]:
    """Plain text as training sequences: each text + eos, cut into consecutive windows of <= max_length tokens with
    a label on every token (windows of one token, which predict nothing, are left out)."""
    out = []
    for text in texts:
        if not text.strip():
            continue
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = ids + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])
        for lo in range(0, len(ids), max_length):
            window = ids[lo : lo + max_length]
            if len(window) > 1:
                out.append({"input_ids": window, "labels": list(window), "prefix_len": 0})
    return out


def text_windows(tokenizer: Any, path: str, max_length: int) -> list[dict]:
    """encode_texts over the "text" field of a JSONL file (sft.text: the dataset's pretrain split)."""
    from tutorforge.core.io import read_jsonl

    return encode_texts(tokenizer, [str(r.get("text") or "") for r in read_jsonl(path)], max_length)


def pack_bins(lengths: Sequence[int], max_length: int, room: Sequence[int] = ()) -> list[list[int]]:
    """Best-fit-decreasing bin packing of example indices into rows of <= max_length tokens (deterministic).

    room: the free space of rows that already exist (bins 0..len(room)-1 of the result, filled first where they fit)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = [[] for _ in room]
    free: list[int] = list(room)
    for i in order:
        n = min(lengths[i], max_length)
        best = -1
        for b, space in enumerate(free):
            if n <= space and (best < 0 or space < free[best]):
                best = b
        if best < 0:
            bins.append([i])
            free.append(max_length - n)
        else:
            bins[best].append(i)
            free[best] -= n
    return bins


def pack_examples(
    examples: Sequence[dict[str, Any]], max_length: int, share_prefixes: bool = False
) -> list[dict[str, Any]]:
    """Rows of concatenated examples with position_ids restarting at 0 per example.

    share_prefixes: examples that start with the same system turn (`prefix_len` from encode_example; e.g. the 123-token
    tool prompt that begins every tool conversation) share one copy of it per row. The row is then laid out as
    [system turn][rest of example 1][rest of example 2]... with positions continuing after the system turn, and
    carries per-token segment ids `seg` and `parent`: PackedCollator turns them into a 4-D mask where each token
    sees its own segment (causally) and its parent (the shared system turn), never another example. Every example
    thus sees exactly the tokens and positions it has alone (tests/test_sft.py), and a row of tool conversations
    computes the prompt once instead of once per conversation. `n_tokens` keeps the examples' full length (the work a
    row stands for). Examples without a shared prefix fill the remaining space as plain segments."""
    weighted = any("weights" in e for e in examples)
    if not share_prefixes:
        rows = []
        for b in pack_bins([len(e["input_ids"]) for e in examples], max_length):
            row: dict[str, Any] = {"input_ids": [], "labels": [], "position_ids": []} | (
                {"weights": []} if weighted else {}
            )
            for i in b:
                ex = examples[i]
                row["input_ids"] += ex["input_ids"]
                row["labels"] += ex["labels"]
                row["position_ids"] += list(range(len(ex["input_ids"])))
                if weighted:
                    row["weights"] += _weights(ex)
            rows.append(row)
        return rows
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, e in enumerate(examples):
        if e.get("prefix_len"):
            groups.setdefault(tuple(e["input_ids"][: e["prefix_len"]]), []).append(i)
    shared = [(list(p), idx) for p, idx in groups.items() if len(idx) > 1]
    layouts: list[tuple[list[int], list[int], list[int]]] = []  # (prefix, shared members, plain members)
    for prefix, idx in shared:
        rest = [len(examples[i]["input_ids"]) - len(prefix) for i in idx]
        layouts += [(prefix, [idx[j] for j in b], []) for b in pack_bins(rest, max_length - len(prefix))]
    used = {i for _, idx in shared for i in idx}
    plain = [i for i in range(len(examples)) if i not in used]
    room = [max_length - len(p) - sum(len(examples[i]["input_ids"]) - len(p) for i in m) for p, m, _ in layouts]
    # the rest: best fit into the space left in those rows, else new rows
    for b, members in enumerate(pack_bins([len(examples[i]["input_ids"]) for i in plain], max_length, room)):
        if b == len(layouts):
            layouts.append(([], [], []))
        layouts[b][2].extend(plain[j] for j in members)
    return [_shared_row(examples, *layout, weighted) for layout in layouts if layout[1] or layout[2]]


def _weights(example: dict[str, Any]) -> list[float]:
    return list(example.get("weights") or [1.0] * len(example["input_ids"]))


def _shared_row(
    examples: Sequence[dict[str, Any]], prefix: list[int], members: list[int], plain: list[int], weighted: bool
) -> dict:
    row: dict[str, Any] = {"input_ids": [], "labels": [], "position_ids": [], "seg": [], "parent": [], "n_tokens": 0}
    if weighted:
        row["weights"] = []

    def add(ids: list[int], labels: list[int], weights: list[float], first_pos: int, parent: int) -> int:
        seg = len(set(row["seg"]))
        row["input_ids"] += ids
        row["labels"] += labels
        row["position_ids"] += list(range(first_pos, first_pos + len(ids)))
        row["seg"] += [seg] * len(ids)
        row["parent"] += [parent] * len(ids)
        if weighted:
            row["weights"] += weights
        return seg

    if prefix:
        top = add(prefix, [IGNORE_INDEX] * len(prefix), [1.0] * len(prefix), 0, -1)
        for i in members:
            ex = examples[i]
            cut = len(prefix)
            add(ex["input_ids"][cut:], ex["labels"][cut:], _weights(ex)[cut:], cut, top)
            row["n_tokens"] += len(ex["input_ids"])
    for i in plain:
        add(examples[i]["input_ids"], examples[i]["labels"], _weights(examples[i]), 0, -1)
        row["n_tokens"] += len(examples[i]["input_ids"])
    return row


def segment_mask(rows_seg: Any, rows_parent: Any) -> Any:
    """(batch, 1, L, L) bool: token i sees token j <= i of its own segment or of its parent segment."""
    import torch

    same = rows_seg.unsqueeze(2) == rows_seg.unsqueeze(1)
    parent = rows_parent.unsqueeze(2) == rows_seg.unsqueeze(1)
    causal = torch.ones(rows_seg.shape[1], rows_seg.shape[1], dtype=torch.bool).tril()
    return ((same | parent) & causal).unsqueeze(1)


class PackedCollator:
    """Packed rows -> tensors; pads to the longest row in the batch, or to `pad_to` (pad = a new segment, label -100),
    no attention_mask (rows with shared system turns: their 4-D segment mask, segment_mask). A fixed width gives a row the same tensor in every batch, which the frozen-layer cache needs to
    recognise it (training/frozen_cache.py); packed rows are nearly full, so it costs little."""

    def __init__(self, pad_id: int, pad_to: int | None = None) -> None:
        self.pad_id, self.pad_to = pad_id, pad_to

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max([len(r["input_ids"]) for r in rows] + [self.pad_to or 0])
        weighted = any("weights" in r for r in rows)
        ids, labels, pos, seg, parent, weights = [], [], [], [], [], []
        for r in rows:
            k = width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * k)
            labels.append(r["labels"] + [IGNORE_INDEX] * k)
            pos.append(r["position_ids"] + list(range(k)))
            if weighted:
                weights.append(list(r.get("weights") or [1.0] * len(r["input_ids"])) + [1.0] * k)
            if "seg" in r:  # shared system turns (pack_examples): the padding is one more segment of its own
                seg.append(r["seg"] + [max(r["seg"], default=-1) + 1] * k)
                parent.append(r["parent"] + [-1] * k)
        batch = {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "position_ids": torch.tensor(pos),
            "n_tokens": torch.tensor(sum(r.get("n_tokens", len(r["input_ids"])) for r in rows)),
        }
        if weighted:  # per-token loss weights (weight_opening); the model never sees them
            batch["loss_weights"] = torch.tensor(weights, dtype=torch.float32)
        if seg:
            if len(seg) != len(rows):
                raise ValueError("a batch mixes rows with and without shared prefixes")
            batch["attention_mask"] = segment_mask(torch.tensor(seg), torch.tensor(parent))
        return batch


class PaddedCollator:
    """One example per row, right-padded to the longest example in the batch, with an attention_mask."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        weighted = any("weights" in r for r in rows)
        ids, labels, att, weights = [], [], [], []
        for r in rows:
            n, k = len(r["input_ids"]), width - len(r["input_ids"])
            ids.append(r["input_ids"] + [self.pad_id] * k)
            labels.append(r["labels"] + [IGNORE_INDEX] * k)
            att.append([1] * n + [0] * k)
            if weighted:
                weights.append(list(r.get("weights") or [1.0] * n) + [1.0] * k)
        batch = {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(att),
            "n_tokens": torch.tensor(sum(att_row.count(1) for att_row in att)),
        }
        if weighted:  # per-token loss weights (weight_opening)
            batch["loss_weights"] = torch.tensor(weights, dtype=torch.float32)
        return batch
