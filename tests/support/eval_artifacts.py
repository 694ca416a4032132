"""A tiny, complete artifacts/ tree for the evaluate stage and the notebooks (built in ~10 s on 2 cores).

    from tests.support.eval_artifacts import build_artifacts
    build_artifacts(tmp_dir)   # tokenizer/, pretrain/{model,train_log.jsonl}, sft/{merged,train_log.jsonl},
                               # dataset/{pretrain,sft}/{validation,test}.jsonl + data_report.json, ingest/, segment/

The tokenizer is a real byte-level BPE with the project's chat template (tutorforge/training/tokenizer.py); the base model is a randomly initialised
2-layer Llama; the "SFT" model is the base overfitted on the held-out conversations, so it must beat the base on
answer loss, ROUGE-L, multiple choice and the Socratic rate, which the tests assert.
"""

from __future__ import annotations

import json
from pathlib import Path

from tutorforge.training.tokenizer import CHAT_TOKENS

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|unk|>", *CHAT_TOKENS]  # as tutorforge/training/tokenizer.py trains them
SOCRATIC_SYSTEM = "You are a Socratic tutor: guide the student with questions, never give the answer."

FACTS = {
    "biology": [
        ("What do plants make in photosynthesis?", "Plants make glucose and oxygen from light."),
        ("What is the powerhouse of the cell?", "The mitochondria."),
        ("What carries genetic information?", "DNA carries genetic information."),
    ],
    "chemistry": [
        ("What is the formula of water?", "Water is H2O."),
        ("What is the pH of a neutral solution?", "A neutral solution has pH 7."),
        ("What do acids release in water?", "Acids release hydrogen ions."),
    ],
    "physics": [
        ("What is the unit of force?", "The newton."),
        ("What is the speed of light?", "About 300000 km per second."),
        ("What does a lens do to light?", "A lens bends light."),
    ],
    "mathematics": [
        ("What is the sum of angles in a triangle?", "The angles add up to 180 degrees."),
        ("What is a prime number?", "A number with exactly two divisors."),
        ("What is the area of a square?", "The side length squared."),
    ],
}
TEXTS = {
    "biology": "Cells are the basic units of life. Plants capture light energy in chloroplasts. ",
    "chemistry": "Atoms bond to form molecules. Acids and bases react to form salts and water. ",
    "physics": "Forces change the motion of objects. Energy is conserved in a closed system. ",
    "mathematics": "A triangle has three sides. Numbers can be prime or composite. ",
}


def sft_records(split: str) -> list[dict]:
    """Held-out example records of every kind the evaluate stage scores (qa, socratic, mc, tool_call, ...)."""
    recs: list[dict] = []
    for subject, facts in sorted(FACTS.items()):
        for i, (q, a) in enumerate(facts):
            base = {
                "subject": subject,
                "section_id": f"{subject}-s{i}",
                "source": "synth:fixture",
                "provenance": {},
                "split": split,
            }
            kind = ["qa", "definition", "why"][i]
            recs.append(
                base
                | {
                    "example_id": f"{subject}-{kind}-{i}",
                    "kind": kind,
                    "meta": {},
                    "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                }
            )
            recs.append(
                base
                | {
                    "example_id": f"{subject}-soc-{i}",
                    "kind": "socratic",
                    "meta": {"reference_answer": a},
                    "messages": [
                        {"role": "system", "content": SOCRATIC_SYSTEM},
                        {"role": "user", "content": q},
                        {"role": "assistant", "content": f"What do you already know about {subject}?"},
                    ],
                }
            )
            wrong = [x for _, x in facts if x != a][:2]
            options = [wrong[0], a, wrong[1]] if i % 2 else [a, *wrong]
            recs.append(
                base
                | {
                    "example_id": f"{subject}-mc-{i}",
                    "kind": "mc",
                    "meta": {"options": options, "answer_index": options.index(a)},
                    "messages": [
                        {"role": "user", "content": f"{q} Options: " + " / ".join(options)},
                        {"role": "assistant", "content": a},
                    ],
                }
            )
        recs.append(
            {
                "subject": subject,
                "section_id": f"{subject}-s0",
                "source": "synth:fixture",
                "provenance": {},
                "split": split,
                "example_id": f"{subject}-tool",
                "kind": "tool_call",
                "meta": {},
                "messages": [
                    {"role": "user", "content": "Compute 12 * 7."},
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"name": "calculator", "arguments": {"expression": "12*7"}}],
                    },
                ],
            }
        )
    return recs


def pretrain_records(split: str) -> list[dict]:
    return [
        {"section_id": f"{s}-{split}-{k}", "doc_id": f"doc-{s}", "subject": s, "text": TEXTS[s] * (3 + k)}
        for s in sorted(TEXTS)
        for k in range(2)
    ]


def build_tokenizer(out: Path) -> None:
    from tutorforge.training.tiny import make_project_tokenizer

    corpus = list(TEXTS.values()) + [json.dumps(r["messages"]) for r in sft_records("test")] + ["Compute 12 * 7."]
    make_project_tokenizer(out, corpus * 3)


def train(model, seqs: list[list[int]], steps: int, lr: float = 3e-3) -> list[float]:
    """Full-batch Adam on token sequences (right-padded); returns the loss per step."""
    import torch

    width = max(map(len, seqs))
    ids = torch.tensor([s + [0] * (width - len(s)) for s in seqs])
    labels = torch.tensor([s + [-100] * (width - len(s)) for s in seqs])
    attn = (labels != -100).long()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster, and much faster on a busy machine
    try:
        for _ in range(steps):
            loss = model(input_ids=ids, attention_mask=attn, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return losses


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build_artifacts(root: Path, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    root = Path(root)
    for split in ("validation", "test"):
        write_jsonl(root / "dataset" / "pretrain" / f"{split}.jsonl", pretrain_records(split))
        write_jsonl(root / "dataset" / "sft" / f"{split}.jsonl", sft_records(split))
    build_tokenizer(root / "tokenizer")
    tok = AutoTokenizer.from_pretrained(root / "tokenizer")
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(cfg)
    text_ids = [tok(r["text"], add_special_tokens=False)["input_ids"][:128] for r in pretrain_records("test")]
    pre_losses = train(model, text_ids, steps=10, lr=1e-3)
    model.save_pretrained(root / "pretrain" / "model")
    tok.save_pretrained(root / "pretrain" / "model")
    write_jsonl(
        root / "pretrain" / "train_log.jsonl",
        [
            {"step": i + 1, "loss": v, "eval_loss": v + 0.1 if i % 5 == 4 else None, "lr": 1e-3, "tokens_per_s": 1000.0}
            for i, v in enumerate(pre_losses)
        ],
    )
    convs = [tok.apply_chat_template(r["messages"], tokenize=False) for r in sft_records("test")]
    sft_losses = train(model, [tok(c, add_special_tokens=False)["input_ids"] for c in convs], steps=100, lr=1e-2)
    model.save_pretrained(root / "sft" / "merged")
    tok.save_pretrained(root / "sft" / "merged")
    write_jsonl(
        root / "sft" / "train_log.jsonl",
        [
            {
                "step": i + 1,
                "loss": v,
                "eval_loss": v + 0.2 if i % 20 == 19 else None,
                "lr": 3e-3,
                "tokens_per_s": 2000.0,
            }
            for i, v in enumerate(sft_losses)
        ],
    )
    build_upstream_reports(root)
    return root


def build_upstream_reports(root: Path) -> None:
    """ingest/segment/dataset outputs in their contract shapes, for the data-exploration notebook."""
    pages, sections = [], []
    for n, (subject, text) in enumerate(sorted(TEXTS.items())):
        for p in (1, 2):
            pages.append(
                {
                    "doc_id": f"doc-{subject}",
                    "file": f"{subject}.pdf",
                    "page": p,
                    "page_label": str(p),
                    "text": text * p,
                    "method": "ocr" if (n + p) % 3 == 0 else "text",
                    "ocr_confidence": 88.5 if (n + p) % 3 == 0 else None,
                    "chars": len(text * p),
                }
            )
        sections.append(
            {
                "section_id": f"{subject}-s0",
                "doc_id": f"doc-{subject}",
                "file": f"{subject}.pdf",
                "chapter": "1",
                "heading_path": ["1 Intro"],
                "page_start": 1,
                "page_end": 2,
                "subject": subject,
                "text": text + "\n" + text * 2,
                "spans": [{"page": 1, "start": 0, "end": len(text)}, {"page": 2, "start": 0, "end": 2 * len(text)}],
            }
        )
    write_jsonl(root / "ingest" / "pages.jsonl", pages)
    (root / "ingest" / "quarantine.json").write_text(json.dumps([{"file": "broken.pdf", "reason": "no pages"}]))
    (root / "ingest" / "report.json").write_text(json.dumps({"files": 5, "pages": len(pages), "quarantined": 1}))
    write_jsonl(root / "segment" / "sections.jsonl", sections)
    (root / "segment" / "report.json").write_text(json.dumps({"sections": len(sections), "docs": len(TEXTS)}))
    for split in ("train",):
        write_jsonl(root / "dataset" / "pretrain" / f"{split}.jsonl", pretrain_records(split))
        write_jsonl(root / "dataset" / "sft" / f"{split}.jsonl", sft_records(split))
    (root / "dataset" / "data_report.json").write_text(
        json.dumps(
            {
                "splits": {"train": 24, "validation": 52, "test": 52},
                "dedup": {"removed": 2},
                "decontamination": {"removed": 1},
            }
        )
    )
