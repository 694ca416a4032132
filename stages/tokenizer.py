"""tokenizer: the pretraining train split -> a byte-level BPE Hugging Face tokenizer dir with a chat template.

    python -m stages.tokenizer                                    # params.yaml [tokenizer] -> artifacts/tokenizer
    python -m stages.tokenizer -S tokenizer.input=corpus.jsonl -S tokenizer.output=/tmp/tok -S tokenizer.vocab_size=4096
    python -m stages.tokenizer -S pretrain.base_model=smollm2     # copy the base model's tokenizer instead of training
    dvc repro --single-item tokenizer

Trains the BPE on the `text` of every record of `tokenizer.input` (tutorforge/training/tokenizer.py), or, with
`pretrain.base_model` set (read unless `tokenizer.base_model` is), copies that model's tokenizer, and replaces
`tokenizer.output` atomically: tokenizer.json, tokenizer_config.json, chat_template.jinja, tokenizer_report.json.
A missing or broken input fails the stage and leaves the previous tokenizer as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tutorforge.core.records import RecordError
from tutorforge.core.stage import StageError, stage_main
from tutorforge.training.tokenizer import TokenizerConfig, build_tokenizer

SECTION = "tokenizer"


def run(cfg: TokenizerConfig) -> dict[str, Any]:
    """Train (or copy) the tokenizer and write it to cfg.output; returns the report."""
    if not cfg.base_model and not Path(cfg.input).is_file():
        raise StageError(f"tokenizer input {cfg.input} does not exist (run the dataset stage first)")
    try:
        return build_tokenizer(cfg)
    except RecordError as e:  # a record without a string `text`: bad upstream data, nothing was written
        raise StageError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    return stage_main(TokenizerConfig, SECTION, run, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
