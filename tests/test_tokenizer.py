"""Tokenizer stage: byte-level BPE round-trip, special tokens, chat template + assistant mask, determinism, base copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages.tokenizer import main
from tutorforge.corpus.synthetic_text import chat_example, write_pretrain_corpus
from tutorforge.training.tokenizer import TokenizerConfig, build_tokenizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pretrain_corpus(tmp_path_factory.mktemp("pretrain"), n_train=200)


@pytest.fixture(scope="module")
def tok_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    build_tokenizer(
        TokenizerConfig(input=str(corpus / "train.jsonl"), output=str(out), vocab_size=1024, base_model=None)
    )
    return out


@pytest.fixture(scope="module")
def tok(tok_dir: Path):  # noqa: ANN201
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tok_dir)


def test_files_and_specials(tok_dir: Path, tok) -> None:  # noqa: ANN001
    assert {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"} <= {p.name for p in tok_dir.iterdir()}
    specials = [
        "<|bos|>",
        "<|eos|>",
        "<|pad|>",
        "<|unk|>",
        "<|system|>",
        "<|user|>",
        "<|assistant|>",
        "<|tool|>",
        "<|end|>",
        "<|tool_call|>",
    ]
    ids = tok.convert_tokens_to_ids(specials)
    assert ids == list(range(len(specials)))  # specials get the first ids, in order
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == tuple(specials[:4])
    for s in specials:  # each is one token, never split
        assert tok(s, add_special_tokens=False)["input_ids"] == [tok.convert_tokens_to_ids(s)]
    assert 300 < len(tok) <= 1024


def test_round_trip_and_no_added_tokens(tok) -> None:  # noqa: ANN001
    for text in [
        "Photosynthesis turns light into glucose.",
        "  two  spaces\tand\ttabs\n\nnewlines ",
        "Ünïcödé ∑ x² → 漢字 🙂",
        "",
        "E = mc^2; pH < 7",
    ]:
        ids = tok(text)["input_ids"]
        assert tok.eos_token_id not in ids and tok.bos_token_id not in ids  # post-processor adds nothing
        assert tok.decode(ids) == text
    common = tok("the cell membrane", add_special_tokens=False)["input_ids"]
    assert len(common) <= 4  # frequent corpus words were merged


def test_chat_template_roles_tool_calls_and_mask(tok) -> None:  # noqa: ANN001
    msgs = chat_example()
    text = tok.apply_chat_template(msgs, tokenize=False)
    assert text.startswith("<|bos|><|system|>\nYou are a patient science tutor.<|end|>\n<|user|>\n")
    assert '<|tool_call|>{"name": "search_textbook", "arguments": {"query": "enzyme", "k": 2}}' in text
    assert "<|tool|>\nAn enzyme is a protein" in text
    assert text.count("<|assistant|>\n") == 2 and text.endswith("<|end|>\n")
    prompt = tok.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|user|>\nWhat does an enzyme do?<|end|>\n<|assistant|>\n")
    out = tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask) and 0 < sum(mask) < len(ids)
    learned = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert learned == (
        'Let me look it up.\n<|tool_call|>{"name": "search_textbook", "arguments": {"query": "enzyme", '
        '"k": 2}}\n<|end|>An enzyme is a protein that speeds up a chemical reaction.<|end|>'
    )
    with pytest.raises(Exception, match="unknown role"):
        tok.apply_chat_template([{"role": "teacher", "content": "x"}], tokenize=False)


def test_deterministic(corpus: Path, tok_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    build_tokenizer(
        TokenizerConfig(input=str(corpus / "train.jsonl"), output=str(out), vocab_size=1024, base_model=None)
    )
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (out / name).read_bytes() == (tok_dir / name).read_bytes(), name


def test_main_reads_params_and_base_model(corpus: Path, tok_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    # a "base model" tokenizer without a chat template: copied unchanged, our template added
    base = tmp_path / "base"
    base_tok = AutoTokenizer.from_pretrained(tok_dir)
    base_tok.chat_template = None
    base_tok.save_pretrained(base)
    (base / "chat_template.jinja").unlink(missing_ok=True)
    params = tmp_path / "params.yaml"
    params.write_text(f"tokenizer: {{vocab_size: 512}}\npretrain: {{base_model: {base}}}\n")
    out = tmp_path / "out"
    args = ["-p", str(params), "-S", f"tokenizer.input={corpus / 'train.jsonl'}", "-S", f"tokenizer.output={out}"]
    assert main(args) == 0
    report = json.loads((out / "tokenizer_report.json").read_text())
    assert report["source"] == f"base:{base}"
    copied = json.loads((out / "tokenizer.json").read_text())
    assert copied["model"]["vocab"] == json.loads((base / "tokenizer.json").read_text())["model"]["vocab"]
    assert "{% generation %}" in (out / "chat_template.jinja").read_text()
    # pretrain.base_model null (from scratch): trained with the params' vocab size
    params.write_text("tokenizer: {vocab_size: 512}\npretrain: {base_model: null}\n")
    assert main(args) == 0
    report = json.loads((out / "tokenizer_report.json").read_text())
    assert report["source"] == "trained" and report["vocab_size"] <= 512


def test_bad_input_is_a_clear_error_and_keeps_output(tmp_path: Path, tok_dir: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset stage"):
        build_tokenizer(
            TokenizerConfig(input=str(tmp_path / "missing.jsonl"), output=str(tmp_path / "o"), base_model=None)
        )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 3}\n')
    out = tmp_path / "keep"
    out.mkdir()
    (out / "marker").write_text("old")
    with pytest.raises(ValueError, match="no string 'text'"):
        build_tokenizer(TokenizerConfig(input=str(bad), output=str(out), base_model=None))
    assert (out / "marker").read_text() == "old"
