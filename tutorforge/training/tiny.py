"""Fixtures for the SFT tests and benchmark: a small ByteLevel BPE chat tokenizer, a tiny random Llama, chat records.

Stand-ins for `artifacts/tokenizer/` and `artifacts/pretrain/model/` until (and independently of) the upstream stages.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

SPECIALS = ["<|pad|>", "<|bos|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Project-style template: assistant turns (text + tool calls + end-of-turn) inside {% generation %}.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}<|im_start|>assistant\n{% generation %}{{ m['content'] }}"
    "{% if m.get('tool_calls') %}{% for c in m['tool_calls'] %}<tool_call>{{ c | tojson }}</tool_call>{% endfor %}"
    "{% endif %}<|im_end|>{% endgeneration %}{{ '\\n' }}"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# SmolLM2-style template: no generation markers, no tool_calls support.
PLAIN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

FACTS = [
    ("photosynthesis", "plants turn light, water and carbon dioxide into sugar and oxygen"),
    ("mitochondria", "the organelles that release energy from food by respiration"),
    ("an atom", "the smallest unit of an element, a nucleus with electrons around it"),
    ("a catalyst", "a substance that speeds up a reaction without being used up"),
    ("velocity", "speed in a given direction, measured in metres per second"),
    ("a prime number", "a whole number greater than one with exactly two factors"),
    ("osmosis", "the movement of water through a membrane from dilute to concentrated"),
    ("an isotope", "atoms of one element with different numbers of neutrons"),
    ("momentum", "mass multiplied by velocity, conserved in collisions"),
    ("a fraction", "a part of a whole written as a numerator over a denominator"),
]


def make_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Chat example records (project contract): qa, multi-turn socratic, tool_call with a tool message."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        term, gloss = FACTS[rng.randrange(len(FACTS))]
        system = {"role": "system", "content": "You are a patient tutor."}
        kind = ("qa", "socratic", "tool_call")[i % 3]
        if kind == "qa":
            msgs = [
                system,
                {"role": "user", "content": f"What is {term}?"},
                {"role": "assistant", "content": f"{term.capitalize()} is {gloss}."},
            ]
        elif kind == "socratic":
            msgs = [
                system,
                {"role": "user", "content": f"Explain {term}."},
                {"role": "assistant", "content": f"What do you already know about {term}?"},
                {"role": "user", "content": "Not much."},
                {"role": "assistant", "content": f"Then remember: {term} is {gloss}."},
            ]
        else:
            msgs = [
                system,
                {"role": "user", "content": f"Look up {term} in the glossary."},
                {"role": "assistant", "content": "", "tool_calls": [{"name": "glossary", "arguments": {"term": term}}]},
                {"role": "tool", "content": gloss},
                {"role": "assistant", "content": f"The glossary says {term} is {gloss}."},
            ]
        out.append(
            {
                "example_id": f"ex{i:04d}",
                "kind": kind,
                "subject": "biology",
                "messages": msgs,
                "section_id": "s0",
                "source": "synth:test",
                "provenance": {},
                "meta": {},
            }
        )
    return out


def make_tokenizer(out_dir: Path | None = None, template: str = CHAT_TEMPLATE, vocab_size: int = 600) -> Any:
    """A ByteLevel BPE fast tokenizer trained on the fixture text, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = [m["content"] for r in make_records(60) for m in r["messages"]] + ['<tool_call>{"arguments": {"term"']
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|im_end|>", pad_token="<|pad|>"
    )
    fast.chat_template = template
    if out_dir is not None:
        fast.save_pretrained(out_dir)
    return fast


def make_model(tokenizer: Any, out_dir: Path | None = None, seed: int = 0, hidden: int = 64, layers: int = 2) -> Any:
    """A tiny random LlamaForCausalLM sized to the tokenizer (saved with it when out_dir is given)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg)
    if out_dir is not None:
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
    return model


def make_project_tokenizer(out_dir: Path, corpus: list[str], vocab_size: int = 600) -> Any:
    """A small byte-level BPE with the project's special tokens and chat template (as the tokenizer stage builds
    them, at toy size), trained on `corpus` and saved to `out_dir`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from tutorforge.training.tokenizer import CHAT_TOKENS, chat_template

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    specials = ["<|bos|>", "<|eos|>", "<|pad|>", "<|unk|>", *CHAT_TOKENS]
    tk.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        additional_special_tokens=list(CHAT_TOKENS),
    )
    tok.chat_template = chat_template()
    tok.save_pretrained(out_dir)
    return tok
