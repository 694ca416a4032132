"""Data for the registry tests: tiny model-artifact trees, fresh moto buckets, the promotion gate and its params.yaml.

src = make_artifacts(tmp_path / "a", answer_loss=1.9, tag="b")
# {"sft/merged": .../a/sft/merged, "sft/adapter": ..., "pretrain/model": ..., "tokenizer": ...,
#  "metrics.json": .../a/metrics.json}; each dir holds config.json {"dir": "sft/merged", "tag": "b"} and
# model.safetensors (2 KiB of random bytes), so two trees never share a content digest
reg.register("tutor", src)
uri = f"s3://{new_bucket(s3_server)}/team/registry"   # an empty bucket per test on the session's moto server
write_params(tmp_path)                                  # params.yaml: {"register": {"name": "tutor", "gate": GATE}}
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import yaml

GATE = [{"metric": "sft.answer_loss", "direction": "lower", "margin": 0.02}]


def make_artifacts(root: Path, answer_loss: float = 2.0, tag: str = "a", big: int = 0) -> dict[str, Path]:
    """Tiny stand-ins for the HF dirs + metrics.json; `big` adds a file of that many bytes (multipart on S3)."""
    root.mkdir(parents=True, exist_ok=True)
    src = {}
    for d in ("sft/merged", "sft/adapter", "pretrain/model", "tokenizer"):
        p = root / d
        p.mkdir(parents=True, exist_ok=True)
        (p / "config.json").write_text(json.dumps({"dir": d, "tag": tag}))
        (p / "model.safetensors").write_bytes(os.urandom(2048))
        src[d] = p
    index = root / "index"  # the textbook index registered with the model (stages/index.py): stand-in files
    index.mkdir(parents=True, exist_ok=True)
    (index / "chunks.jsonl").write_text(json.dumps({"chunk_id": tag, "text": "A cell is the unit of life."}) + "\n")
    (index / "index.faiss").write_bytes(os.urandom(1536))
    (index / "manifest.json").write_text(json.dumps({"format": 1, "n_chunks": 1, "tag": tag}))
    src["index"] = index
    splits = root / "dataset" / "sft"  # the SFT splits registered with the model (make_quiz, the tool gate)
    splits.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        record = {"example_id": f"{tag}-{split}", "kind": "qa", "section_id": tag, "split": split, "messages": []}
        (splits / f"{split}.jsonl").write_text(json.dumps(record) + "\n")
    src["dataset/sft"] = splits
    if big:
        (root / "sft/merged/big.safetensors").write_bytes(os.urandom(big))
    metrics = {  # the shape evaluate writes (flattened keys the default params.yaml gate reads), trimmed
        "benchmark": {"name": "tutor", "version": "v1", "digest": "4eb85fb7499c" + "0" * 52},
        "base": {"answer_loss": 3.0, "perplexity": 50.0},
        "sft": {
            "answer_loss": answer_loss,
            "perplexity": 40.0,
            "bench": {"answer_loss": answer_loss, "tool_call_accuracy": 0.9},
            "mmlu": {"overall": 0.3},
        },
        "delta": {"answer_loss": answer_loss - 3.0},
    }
    (root / "metrics.json").write_text(json.dumps(metrics))
    src["metrics.json"] = root / "metrics.json"
    return src


def new_bucket(server) -> str:
    import boto3

    name = f"tf-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=server.url).create_bucket(Bucket=name)
    return name


def write_params(tmp_path: Path) -> Path:
    """params.yaml for the `tutorforge registry` commands: the model name and the gate."""
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"register": {"name": "tutor", "gate": GATE}}))
    return p
