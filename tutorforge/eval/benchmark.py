"""The frozen tutor benchmark (data/benchmarks/<name>-<version>/): load it, prove it is unedited, check every item.

    bench = load_benchmark("data/benchmarks/tutor-v1")
    bench.version, bench.digest[:12], len(bench.mc)            # ("v1", "4eb85fb7499c", 40)
    bench.tools[0]
    # {"id": "tool-bio-001", "subject": "biology", "request": "Can I see how the heart's chambers fit together in 3D?",
    #  "expected": {"name": "show_3d_model", "arguments": {"model_id": "human_heart"}}}

The set is written by hand and never regenerated: manifest.json holds each JSONL file's sha256 and item count, and a
file whose bytes no longer match raises BenchmarkError naming it (the set was edited in place; a change is a new
version folder, e.g. tutor-v2). `digest` (sha256 over the manifest's "<file>:<sha256>" lines, sorted) identifies the
exact set a promotion-gate comparison ran on. Every item is then checked against its kind's JSON schema (jsonschema),
with ids unique and their subject code matching `subject`. Scoring rules live in the folder's README.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

KINDS = ("short_answer", "mc", "socratic", "tools", "grounded")
PREFIX = {"short_answer": "sa", "mc": "mc", "socratic": "soc", "tools": "tool", "grounded": "gr"}
SUBJECTS = {"biology": "bio", "chemistry": "chem", "physics": "phys", "mathematics": "math"}
PROMPT_FIELDS = {"short_answer": "question", "mc": "question", "socratic": "student", "tools": "request",
                 "grounded": "question"}  # fmt: skip

_TEXT = {"type": "string", "minLength": 2}
_TERMS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
_PAGE = {"doc": {"type": "string", "pattern": r"^[\w.-]+\.pdf$"}, "page": {"type": "integer", "minimum": 1},
         "page_label": {"type": "string", "minLength": 1}}  # fmt: skip
_CALL = {"type": "object", "additionalProperties": False, "required": ["name", "arguments"],
         "properties": {"name": {"type": "string", "minLength": 1}, "arguments": {"type": "object"}}}  # fmt: skip


def _schema(kind: str, props: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An item: id ("sa-bio-001"), subject, the kind's required fields (`props`) and any `optional` ones, nothing else."""
    required = {
        "id": {"type": "string", "pattern": rf"^{PREFIX[kind]}-({'|'.join(SUBJECTS.values())})-\d{{3}}$"},
        "subject": {"enum": sorted(SUBJECTS)},
        **props,
    }
    props = {**required, **(optional or {})}
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": props}


SCHEMAS: dict[str, dict[str, Any]] = {
    "short_answer": _schema("short_answer", {"question": _TEXT, "reference": _TEXT, **_PAGE}),
    "mc": _schema(
        "mc",
        {
            "question": _TEXT,
            "options": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 4,
                "maxItems": 4,
                "uniqueItems": True,
            },
            "answer": {"type": "integer", "minimum": 0, "maximum": 3},
        },
    ),
    "socratic": _schema(
        "socratic",
        {
            "student": _TEXT,
            "answer": {"type": "string", "minLength": 1},
            "answer_terms": _TERMS,
            "reference_reply": _TEXT,
        },
    ),
    # match_keywords {argument: [keywords]}: present where the expected call has free-text arguments (query, topic)
    "tools": _schema(
        "tools",
        {"request": _TEXT, "expected": _CALL},
        {"match_keywords": {"type": "object", "additionalProperties": _TERMS}},
    ),
    "grounded": _schema("grounded", {"question": _TEXT, "reference": _TEXT, "evidence": _TEXT, **_PAGE}),
}
_FILE = {"type": "object", "required": ["sha256", "items"], "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "items": {"type": "integer", "minimum": 1}}}  # fmt: skip
MANIFEST_SCHEMA = {"type": "object", "required": ["name", "version", "created", "files"], "properties": {
    "name": {"type": "string", "pattern": r"^[a-z0-9_]+$"}, "version": {"type": "string", "pattern": r"^v\d+$"},
    "created": {"type": "string"}, "files": {"type": "object", "additionalProperties": _FILE}}}  # fmt: skip


class BenchmarkError(ValueError):
    """The benchmark folder is missing, malformed, or was edited in place (the message names the file)."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    version: str
    created: str
    root: Path
    digest: str
    short_answer: list[dict[str, Any]] = field(default_factory=list)
    mc: list[dict[str, Any]] = field(default_factory=list)
    socratic: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    grounded: list[dict[str, Any]] = field(default_factory=list)

    def items(self, kind: str) -> list[dict[str, Any]]:
        return {k: getattr(self, k) for k in KINDS}[kind]

    def prompt_texts(self) -> Iterator[tuple[str, str]]:
        """(item id, text) for everything a model is shown: questions, student turns, requests, MC options."""
        for kind in KINDS:
            for item in self.items(kind):
                yield item["id"], item[PROMPT_FIELDS[kind]]
                for option in item.get("options", []):
                    yield item["id"], option


def digest_of(files: dict[str, dict[str, Any]]) -> str:
    """sha256 over the manifest's "<file>:<sha256>" lines in file-name order."""
    lines = "".join(f"{name}:{files[name]['sha256']}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def states_answer(reply: str, answer_terms: list[str]) -> list[str]:
    """The answer terms a Socratic first reply contains (case-insensitive, whole words/numbers; − as -, × as x)."""

    def norm(s: str) -> str:
        s = unicodedata.normalize("NFKC", s).lower().replace("\u2212", "-").replace("\u00d7", "x")
        return re.sub(r"\s+", " ", s)

    text = norm(reply)
    return [t for t in answer_terms if re.search(rf"(?<![\w.,]){re.escape(norm(t))}(?![\w]|[.,]\d)", text)]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise BenchmarkError(f"{path}: line {n}: not JSON: {e.msg}") from None
    return items


def load_benchmark(root: str | Path) -> Benchmark:
    """Load and verify a benchmark version folder; raises BenchmarkError on any mismatch or invalid item."""
    root = Path(root)
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise BenchmarkError(f"{mpath}: missing (not a benchmark folder)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{mpath}: not JSON: {e.msg}") from None
    if (err := best_match(Draft202012Validator(MANIFEST_SCHEMA).iter_errors(manifest))) is not None:
        raise BenchmarkError(f"{mpath}: {'.'.join(map(str, err.absolute_path)) or '(manifest)'}: {err.message}")
    name, version, created, files = manifest["name"], manifest["version"], manifest["created"], manifest["files"]
    if root.name != f"{name}-{version}":
        raise BenchmarkError(f"{root}: folder name should be {name}-{version} (from {mpath.name})")
    expected = {f"{k}.jsonl" for k in KINDS}
    on_disk = {p.name for p in root.glob("*.jsonl")}
    if set(files) != expected or on_disk != expected:
        raise BenchmarkError(f"{root}: files {sorted(on_disk)} / manifest {sorted(files)} != {sorted(expected)}")
    loaded: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for kind in KINDS:
        path = root / f"{kind}.jsonl"
        if hashlib.sha256(path.read_bytes()).hexdigest() != files[path.name]["sha256"]:
            raise BenchmarkError(
                f"{path}: sha256 does not match {mpath.name}: the frozen set was edited in place "
                f"(publish a new version folder next to {root.name} instead)"
            )
        items = _read_jsonl(path)
        if len(items) != files[path.name]["items"]:
            raise BenchmarkError(f"{path}: {len(items)} items, manifest says {files[path.name]['items']}")
        validator = Draft202012Validator(SCHEMAS[kind])
        for n, item in enumerate(items, 1):
            if (err := best_match(validator.iter_errors(item))) is not None:
                where = ".".join(map(str, err.absolute_path)) or "(item)"
                raise BenchmarkError(f"{path}: line {n}: {where}: {err.message}")
            if item["id"] in seen:
                raise BenchmarkError(f"{path}: line {n}: duplicate id {item['id']}")
            if item["id"].split("-")[1] != SUBJECTS[item["subject"]]:
                raise BenchmarkError(f"{path}: line {n}: id {item['id']} does not match subject {item['subject']}")
            seen.add(item["id"])
        loaded[kind] = items
    return Benchmark(name, version, created, root, digest_of(files), **loaded)
