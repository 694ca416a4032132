"""Tokenizer: the pretraining train split -> a byte-level BPE Hugging Face tokenizer dir with a chat template.

    cfg = load_config(TokenizerConfig)        # params.yaml [tokenizer] (+ pretrain.base_model), see stages/tokenizer.py
    report = build_tokenizer(cfg)             # -> cfg.output: tokenizer.json, tokenizer_config.json, chat template

Byte-level BPE (HF `tokenizers`: ByteLevel pre-tokenizer + decoder, no normalizer, so every byte string round-trips
exactly) trained with `train_from_iterator` on the `text` of each record, documents in file order. Special tokens
(bos/eos/pad/unk + chat markers) get the first ids. The post-processor adds NO special tokens: the pretrain stage
appends EOS after every document itself, and TRL's SFT appends EOS to plain-text data (conversations end each
assistant turn with `<|end|>` from the chat template), so EOS is never doubled. Generation stops at `<|end|>` or
EOS (pretrain writes both into generation_config.json).

Chat template (`chat_template.jinja`): `{bos}<|system|>\\n…<|end|>\\n<|user|>\\n…<|end|>\\n<|assistant|>\\n…<|end|>\\n`,
tool results as `<|tool|>` turns, tool calls as `<|tool_call|>{"name": …, "arguments": {…}}` lines inside the
assistant turn; each assistant turn's content and its `<|end|>` are wrapped in `{% generation %}` so
`return_assistant_tokens_mask=True` / TRL `assistant_only_loss=True` train on assistant tokens only;
`add_generation_prompt=True` ends with `<|assistant|>\\n`.

With `pretrain.base_model` set in params.yaml (a local dir, hub id or `smollm2`), the base model's tokenizer is copied
unchanged instead (its vocabulary must match the model's embeddings). Its own chat template is kept if it has
`{% generation %}` markers; a ChatML tokenizer (`<|im_start|>`) without them gets the equivalent ChatML template with
markers; a tokenizer without any template gets ours with plain-text role markers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutorforge.core.config import NonNegInt, PositiveInt, config_dict, section
from tutorforge.core.io import atomic_dir, read_jsonl, write_json
from tutorforge.core.logs import get_logger
from tutorforge.core.records import RecordError

log = get_logger(__name__)

CHAT_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|end|>", "<|tool_call|>"]


@section("tokenizer")
@dataclass
class TokenizerConfig:
    input: str = "artifacts/dataset/pretrain/train.jsonl"
    """Pretraining train split (JSONL records with a `text` field) the BPE is trained on."""
    output: str = "artifacts/tokenizer"
    """Output Hugging Face tokenizer dir (replaced atomically)."""
    vocab_size: PositiveInt = 8192
    """Target vocabulary size including the 256 byte symbols and the special tokens."""
    min_frequency: NonNegInt = 2
    """A pair must occur at least this often to be merged."""
    bos_token: str = "<|bos|>"
    """Beginning-of-sequence token (the chat template starts with it)."""
    eos_token: str = "<|eos|>"
    """End-of-sequence token (pretrain appends it after every document)."""
    pad_token: str = "<|pad|>"
    """Padding token."""
    unk_token: str = "<|unk|>"
    """Unknown token (never produced by byte-level BPE; present for tools that expect one)."""
    chat_tokens: list[str] = field(default_factory=lambda: list(CHAT_TOKENS))
    """Chat role/turn markers, in order: system, user, assistant, tool, end-of-turn, tool-call."""
    model_max_length: PositiveInt = 2048
    """Stored in tokenizer_config.json (upper bound; pretrain uses its own block size)."""
    base_model: str | None = field(default="smollm2", metadata={"params_from": "pretrain.base_model"})
    """Copy this model's tokenizer instead of training (read from `pretrain.base_model`, whose default this is; None =
    train a byte-level BPE on `input`)."""

    def specials(self) -> list[str]:
        """bos, eos, pad, unk, then the chat tokens: the first ids of a trained vocabulary, in this order."""
        return [self.bos_token, self.eos_token, self.pad_token, self.unk_token, *self.chat_tokens]

    def __post_init__(self) -> None:
        specials = self.specials()
        if len(set(specials)) != len(specials):
            raise ValueError(f"tokenizer.chat_tokens: special tokens (+ bos/eos/pad/unk) must be distinct: {specials}")
        if not self.base_model and self.vocab_size < 256 + len(specials):
            raise ValueError(
                f"tokenizer.vocab_size: {self.vocab_size} is smaller than 256 bytes + {len(specials)} special tokens"
            )


def chat_template(
    system: str = "<|system|>",
    user: str = "<|user|>",
    assistant: str = "<|assistant|>",
    tool: str = "<|tool|>",
    end: str = "<|end|>",
    tool_call: str = "<|tool_call|>",
    bos: bool = True,
    chatml: bool = False,
) -> str:
    """A Jinja chat template: role turns, tool calls as JSON in assistant turns, `{% generation %}` around the
    assistant's part. `chatml=True` renders `<|im_start|>role\\n…<|im_end|>\\n` instead of role tokens."""

    def opener(role_tok: str, role: str) -> str:
        return f"<|im_start|>{role}\n" if chatml else f"{role_tok}\n"

    end_tok = "<|im_end|>" if chatml else end
    call = "<tool_call>" if chatml else tool_call
    call_end = "</tool_call>\\n" if chatml else "\\n"
    return (
        ("{{- bos_token -}}" if bos else "")
        + "{%- for message in messages -%}"
        + "{%- if message['role'] == 'assistant' -%}"
        + opener(assistant, "assistant")
        + "{% generation %}"
        + "{%- if message['content'] -%}{{ message['content'] }}{%- endif -%}"
        + "{%- if message.get('tool_calls') -%}"
        + "{%- if message['content'] -%}{{ '\\n' }}{%- endif -%}"
        + "{%- for call in message['tool_calls'] -%}"
        + "{%- set fn = call['function'] if call.get('function') else call -%}"
        + f"{{{{ '{call}' }}}}{{{{ {{'name': fn['name'], 'arguments': fn['arguments']}} | tojson }}}}{{{{ '{call_end}' }}}}"
        + "{%- endfor -%}"
        + "{%- endif -%}"
        + f"{{{{ '{end_tok}' }}}}"
        + "{% endgeneration %}"
        + "{{ '\\n' }}"
        + "{%- else -%}"
        + "{%- set role_tok = {'system': '"
        + opener(system, "system").replace("\n", "\\n")
        + "', 'user': '"
        + opener(user, "user").replace("\n", "\\n")
        + "', 'tool': '"
        + opener(tool, "tool").replace("\n", "\\n")
        + "'} -%}"
        + "{%- if message['role'] not in role_tok -%}"
        + "{{ raise_exception('unknown role: ' + message['role']) }}"
        + "{%- endif -%}"
        + "{{ role_tok[message['role']] }}"
        + "{%- if message['content'] is string -%}{{ message['content'] }}"
        + "{%- else -%}{{ message['content'] | tojson }}{%- endif -%}"
        + f"{{{{ '{end_tok}\\n' }}}}"
        + "{%- endif -%}"
        + "{%- endfor -%}"
        + "{%- if add_generation_prompt -%}"
        + opener(assistant, "assistant").replace("\n", "{{ '\\n' }}")
        + "{%- endif -%}"
    )


def iter_texts(path: str | Path) -> Iterator[str]:
    """The `text` of every record (a missing file or a record without text is a clear error)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer input {path} does not exist (run the dataset stage first)")
    for i, rec in enumerate(read_jsonl(path), 1):
        text = rec.get("text")
        if not isinstance(text, str):
            raise RecordError(f"{path}: record {i} has no string 'text' field")
        if text:
            yield text


def train_tokenizer(cfg: TokenizerConfig) -> Any:
    """Train the byte-level BPE and wrap it as a PreTrainedTokenizerFast with specials and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = cfg.specials()
    tok = Tokenizer(models.BPE(unk_token=cfg.unk_token))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)  # offsets only: adds no tokens (no double EOS)
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = list(iter_texts(cfg.input))
    if not texts:
        raise RecordError(f"{cfg.input}: no text to train the tokenizer on")
    log.info(
        "training byte-level BPE (vocab %d) on %d documents, %.1f MB",
        cfg.vocab_size,
        len(texts),
        sum(map(len, texts)) / 1e6,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    names: dict[str, Any] = dict(
        zip(["system", "user", "assistant", "tool", "end", "tool_call"], cfg.chat_tokens, strict=False)
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=cfg.bos_token,
        eos_token=cfg.eos_token,
        pad_token=cfg.pad_token,
        unk_token=cfg.unk_token,
        additional_special_tokens=list(cfg.chat_tokens),
        model_max_length=cfg.model_max_length,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = chat_template(**names)
    return fast


def base_tokenizer(base_model: str) -> Any:
    """The base model's tokenizer, vocabulary unchanged; a chat template with generation markers ensured."""
    from tutorforge.training.models import load_tokenizer

    tok = load_tokenizer(base_model)
    existing = tok.chat_template if isinstance(tok.chat_template, str) else None
    if existing and re.search(r"\{%-?\s*generation\s*-?%\}", existing):  # not `add_generation_prompt`
        return tok
    if "<|im_start|>" in tok.get_vocab():
        log.info("base tokenizer is ChatML without generation markers: using the ChatML template with markers")
        tok.chat_template = chat_template(chatml=True, bos=False)
    elif not existing:
        log.info("base tokenizer has no chat template: adding ours (role markers as plain text)")
        tok.chat_template = chat_template(bos=tok.bos_token is not None)
    else:
        log.warning("base tokenizer's chat template has no {%% generation %%} markers: assistant-only loss won't work")
    return tok


def build_tokenizer(cfg: TokenizerConfig) -> dict[str, Any]:
    """Train (or copy) the tokenizer and write it to cfg.output atomically; returns the report."""
    tok = base_tokenizer(cfg.base_model) if cfg.base_model else train_tokenizer(cfg)
    with atomic_dir(cfg.output) as tmp:
        tok.save_pretrained(tmp)
        report = {
            "vocab_size": len(tok),
            "source": f"base:{cfg.base_model}" if cfg.base_model else "trained",
            "special_tokens": tok.all_special_tokens,
            "config": config_dict(cfg),
        }
        write_json(Path(tmp) / "tokenizer_report.json", report)
    log.info("wrote %s (vocab %d)", cfg.output, len(tok))
    return report
