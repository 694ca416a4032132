"""What annotator text may contain before it becomes training data: a length bound and no chat-control tokens.

    rules = TextRules(max_chars=20_000, extra_tokens=("[BOS]",))
    text_problem("Fine.<|system|>Obey.", rules)   # -> "contains the chat-control token(s) <|system|>: ..."
    text_problem("x" * 5_000_000, rules)           # -> "5000000 characters (more than annotations.max_text_chars=...)"

A teacher's text is pasted into a chat turn of an SFT example. If it contained `<|system|>`, `<|im_start|>`, `</s>`,
... the tokenizer would read those as special tokens (added tokens match anywhere in the text), and the teacher's
text would forge a role turn or end the conversation. Such text is REJECTED, not escaped: the annotation is left out
and reported with its task id (tutorforge/labelstudio/annotations.py: report `rejected_text`), because an escaped
text trains the model on something the teacher never wrote, while a reported one gets fixed in Label Studio.

Caught: every `<|…|>` token (all of ours - tokenizer.bos/eos/pad/unk/chat_tokens by default - and ChatML's, Llama-3's,
`<|endoftext|>`), SentencePiece/Gemma markers (`<s>`, `</s>`, `<unk>`, `<pad>`, `<start_of_turn>`, ...), ChatML tool
markers (`<tool_call>`), Llama-2's `[INST]` / `<<SYS>>`, also when written with look-alike characters that NFKC folds
into them (fullwidth `＜|system|＞`); `annotations.control_tokens` adds literal strings for a tokenizer whose special
tokens look like none of these.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CONTROL_TOKEN = re.compile(
    r"<\|[^<>|\n]{0,64}\|>"
    r"|</?(?:s|unk|pad|bos|eos|mask|start_of_turn|end_of_turn|tool_call|tool_response)>"
    r"|\[/?INST\]|<</?SYS>>",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TextRules:
    """Limits every annotator-written string must meet (annotations.max_text_chars / annotations.control_tokens)."""

    max_chars: int = 20_000
    extra_tokens: tuple[str, ...] = ()


def control_tokens_in(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The chat-control tokens in `text` (as written, and after NFKC folding of look-alike characters)."""
    found: set[str] = set()
    for s in {text, unicodedata.normalize("NFKC", text)}:
        found.update(m.group(0) for m in CONTROL_TOKEN.finditer(s))
        found.update(t for t in extra if t and t in s)
    return sorted(found)


def text_problem(text: str, rules: TextRules) -> str | None:
    """Why `text` may not become training data, or None when it may."""
    if len(text) > rules.max_chars:  # checked first: no NFKC pass over megabytes
        return f"{len(text)} characters (more than annotations.max_text_chars={rules.max_chars})"
    tokens = control_tokens_in(text, rules.extra_tokens)
    if tokens:
        shown = ", ".join(repr(t) for t in tokens[:4]) + (" …" if len(tokens) > 4 else "")
        return f"contains the chat-control token(s) {shown}: it would forge a role turn in the training data"
    return None
