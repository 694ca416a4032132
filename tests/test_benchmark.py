"""The frozen tutor benchmark (data/benchmarks/tutor-v1): loads and verifies, its tool calls are valid, its evidence
sits on the stated PDF page, its prompts share no 8-gram with the seed annotations or the synth templates' output,
and an in-place edit is refused."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pymupdf
import pytest
import yaml

from tutorforge.eval.benchmark import KINDS, SUBJECTS, BenchmarkError, digest_of, load_benchmark, states_answer
from tutorforge.tools.specs import DEFAULT_CATALOGUE, tool_specs, validate_call

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "data" / "benchmarks" / "tutor-v1"
COUNTS = {"short_answer": 40, "mc": 40, "socratic": 24, "tools": 24, "grounded": 20}


@pytest.fixture(scope="module")
def bench():
    return load_benchmark(BENCH)


def ngrams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    toks = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def test_counts_subjects_and_digest(bench):
    assert (bench.name, bench.version) == ("tutor", "v1")
    assert {k: len(bench.items(k)) for k in KINDS} == COUNTS
    for kind in KINDS:
        assert set(Counter(i["subject"] for i in bench.items(kind))) == set(SUBJECTS), kind
    manifest = json.loads((BENCH / "manifest.json").read_text(encoding="utf-8"))
    assert bench.digest == digest_of(manifest["files"])
    assert Counter(i["answer"] for i in bench.mc) == {0: 10, 1: 10, 2: 10, 3: 10}  # no position bias


def test_tool_calls_are_valid_and_cover_every_tool_and_model(bench):
    for item in bench.tools:
        assert validate_call(item["expected"], DEFAULT_CATALOGUE) == [], item["id"]
        spec = tool_specs(DEFAULT_CATALOGUE)[item["expected"]["name"]]["parameters"]["properties"]
        free = {a for a, s in spec.items() if s["type"] == "string" and "enum" not in s}
        keywords = item.get("match_keywords", {})
        assert set(keywords) == free & set(item["expected"]["arguments"]), item["id"]
        for arg, words in keywords.items():  # the expected value itself passes its own keyword rule
            assert all(w.lower() in item["expected"]["arguments"][arg].lower() for w in words), item["id"]
    assert {i["expected"]["name"] for i in bench.tools} == set(tool_specs(DEFAULT_CATALOGUE))
    asks = [
        (i["request"].lower(), i["expected"]["arguments"]["model_id"])
        for i in bench.tools
        if "model_id" in i["expected"]["arguments"]
    ]
    assert sorted(m for _, m in asks) == sorted(DEFAULT_CATALOGUE)
    named = [m for request, m in asks if m.replace("_", " ") in request]
    assert len(named) <= 2, named  # most 3D requests describe what to see instead of naming the model


def test_pages_and_grounded_evidence_match_the_pdfs(bench):
    docs: dict[str, pymupdf.Document] = {}
    for item in bench.short_answer + bench.grounded:
        doc = docs.setdefault(item["doc"], pymupdf.open(ROOT / "data" / "textbooks" / item["doc"]))
        assert 1 <= item["page"] <= doc.page_count, item["id"]
        page = doc[item["page"] - 1]  # `page` is the ingest page number: 1-based physical page
        assert item["page_label"] == (page.get_label() or str(item["page"])), item["id"]
        if "evidence" in item:  # text-layer pages only; whitespace normalised (PDF lines break anywhere)
            text = " ".join(page.get_text().split())
            assert " ".join(item["evidence"].split()) in text, item["id"]
    for doc in docs.values():
        doc.close()


def test_socratic_reference_replies_guide_without_giving_the_answer(bench):
    for item in bench.socratic:
        assert item["reference_reply"].rstrip().endswith("?"), item["id"]
        assert states_answer(item["reference_reply"], item["answer_terms"]) == [], item["id"]
        assert states_answer(item["answer"], item["answer_terms"]), item["id"]  # the terms do catch the answer
    assert states_answer("It happens in the chloroplasts.", ["chloroplasts"]) == ["chloroplasts"]
    assert states_answer("Is it 0.6 or 16?", ["6"]) == []  # whole numbers only, not digits inside others
    assert states_answer("So 2x = 12 and x = 6.", ["6"]) == ["6"]


def test_prompts_share_no_8gram_with_seed_annotations(bench):
    texts: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, str):
            texts.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(yaml.safe_load((ROOT / "data" / "sources" / "seed_annotations.yaml").read_text(encoding="utf-8")))
    seed = set().union(*(ngrams(t) for t in texts))
    assert [i for i, t in bench.prompt_texts() if ngrams(t) & seed] == []


def _sections_from_sources(src: Path) -> list[dict]:
    """The sample books as sections (one per ## heading), straight from their markdown: no PDF, no OCR."""
    from tutorforge.corpus.markup import parse_source

    out: list[dict] = []
    for md in sorted(src.glob("*.md")):
        meta, blocks = parse_source(md.read_text(encoding="utf-8"))
        chapter = ""
        for b in blocks:
            if b[0] == "h" and b[1] <= 2:
                chapter = b[2] if b[1] == 1 else chapter
                path = [chapter, b[2]] if b[1] == 2 else [b[2]]
                out.append({"section_id": f"{md.stem}-{len(out)}", "doc_id": md.stem, "file": f"{md.stem}.pdf",
                            "chapter": chapter, "heading_path": path, "subject": meta["subject"], "text": ""})  # fmt: skip
            elif out and b[0] in ("p", "li", "formula", "example"):
                lines = list(b[1]) if b[0] == "example" else [b[1]]
                out[-1]["text"] = "\n".join([out[-1]["text"], *lines]).strip()
    return [s for s in out if s["text"]]


def test_prompts_share_no_8gram_with_synth_templates_on_the_sample_books(bench):
    from tutorforge.synth.generate import KINDS as SYNTH_KINDS
    from tutorforge.synth.generate import SynthConfig, generate_deterministic

    sections = _sections_from_sources(ROOT / "data" / "sources")
    cfg = SynthConfig(caps={k: 1000 for k in SYNTH_KINDS}, paraphrase_rate=1.0)  # every template candidate
    examples = generate_deterministic(sections, cfg)
    assert len(examples) > 500
    grams = set().union(*(ngrams(m.get("content") or "") for e in examples for m in e["messages"]))
    assert [i for i, t in bench.prompt_texts() if ngrams(t) & grams] == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    dst = tmp_path / "tutor-v1"
    shutil.copytree(BENCH, dst)
    return dst


def test_edit_in_place_is_refused_naming_the_file(copy: Path):
    path = copy / "mc.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace('"answer": 0', '"answer": 1', 1), encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"mc\.jsonl: sha256 does not match manifest\.json: .*edited in place"):
        load_benchmark(copy)


def test_invalid_item_is_refused_even_with_a_fresh_hash(copy: Path):
    import hashlib

    path = copy / "tools.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    item = json.loads(lines[0])
    del item["request"]
    path.write_text("\n".join([json.dumps(item), *lines[1:]]) + "\n", encoding="utf-8")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["tools.jsonl"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"tools\.jsonl: line 1: .*'request' is a required property"):
        load_benchmark(copy)


def test_folder_must_match_the_manifest(copy: Path):
    (copy / "extra.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match="extra.jsonl"):
        load_benchmark(copy)
    (copy / "extra.jsonl").unlink()
    renamed = copy.rename(copy.parent / "tutor-v2")
    with pytest.raises(BenchmarkError, match="folder name should be tutor-v1"):
        load_benchmark(renamed)
