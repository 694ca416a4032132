"""A tiny tokenizer + Llama on disk and encoded SFT examples from the fixture records (tests of the SFT pieces).

tok, examples = tiny_sft(tmp / "x", n_records=12, seed=3, max_length=128)   # tmp/x/tok, tmp/x/model (4 layers)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.training.sft_data import encode_records
from tutorforge.training.tiny import make_model, make_records, make_tokenizer


def tiny_sft(d: Path, n_records: int, seed: int, max_length: int) -> tuple[Any, list[dict[str, Any]]]:
    """Write d/tok and d/model (4 layers); return the tokenizer and the encoded examples of n_records records."""
    tok = make_tokenizer(d / "tok")
    make_model(tok, d / "model", layers=4)
    examples, _ = encode_records(tok, make_records(n_records, seed=seed), max_length)
    return tok, examples
