"""ingest stage + bad params (issue 11): a typo, a wrong type or an out-of-range value in the params file stops the
stage before it touches anything (exit 2, one line naming the file and the key); `5e-2` is a number."""

from __future__ import annotations

from pathlib import Path

import pytest

from stages import ingest as ingest_stage
from tests.support.pdfs import text_pdf
from tutorforge.core.io import read_json, read_jsonl
from tutorforge.core.stage import load_stage_config
from tutorforge.pdf.ingest import IngestConfig

PAGES = [
    "Enzymes are proteins that speed up the reactions in living cells. " * 3,
    "Diffusion moves particles from a high to a low concentration. " * 3,
]


def write_params(path: Path, *lines: str, section: str = "ingest") -> Path:
    """A params file with `section:` holding `lines` (YAML as written), one worker and uncached unless they say."""
    keys = {line.split(":")[0] for line in lines}
    lines = (*lines, *(d for d in ("workers: 1", "cache_dir: ''") if d.split(":")[0] not in keys))
    path.write_text(f"{section}:\n" + "".join(f"  {line}\n" for line in lines))
    return path


def stage(params: Path, src: Path, out: Path) -> int:
    """The ingest stage with only input/output overridden (every other value comes from `params`)."""
    return ingest_stage.main(["-p", str(params), "-S", f"ingest.input={src}", "-S", f"ingest.output={out}"])


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture
def previous(tmp_path: Path) -> dict:
    """Two good PDFs, ingested once with a valid params file: the outputs a bad run must leave alone."""
    src, out = tmp_path / "in", tmp_path / "out"
    text_pdf(src / "a.pdf", PAGES)
    text_pdf(src / "b.pdf", PAGES[::-1])
    good = write_params(tmp_path / "good.yaml", "min_text_chars: 20")
    assert stage(good, src, out) == 0
    before = snapshot(out)
    assert set(before) == {"pages.jsonl", "documents.jsonl", "quarantine.json", "report.json"}
    return {"tmp": tmp_path, "src": src, "out": out, "before": before}


def error_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_section_typo_fails_before_touching_outputs(previous: dict, capsys: pytest.CaptureFixture) -> None:
    params = write_params(previous["tmp"] / "typo.yaml", section="injest")
    capsys.readouterr()
    assert stage(params, previous["src"], previous["out"]) != 0
    line = error_line(capsys)
    assert "injest" in line and str(params) in line, line
    assert snapshot(previous["out"]) == previous["before"]


def test_exponent_number_loads_as_float_and_good_pdfs_flow(previous: dict, capsys: pytest.CaptureFixture) -> None:
    params = write_params(previous["tmp"] / "exp.yaml", "max_bad_ratio: 5e-2")
    cfg = load_stage_config(IngestConfig, "ingest", ["-p", str(params)])
    assert cfg.max_bad_ratio == 0.05 and isinstance(cfg.max_bad_ratio, float)
    assert stage(params, previous["src"], previous["out"]) == 0
    out = previous["out"]
    assert read_json(out / "quarantine.json") == []
    pages = list(read_jsonl(out / "pages.jsonl"))
    assert [(p["file"], p["method"]) for p in pages] == [("a.pdf", "text")] * 2 + [("b.pdf", "text")] * 2
    for name in ("pages.jsonl", "documents.jsonl", "quarantine.json"):  # 0.05 is the default: same records
        assert (out / name).read_bytes() == previous["before"][name], name


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("max_bad_ratio: lots", "ingest.max_bad_ratio"),
        ("workers: -1", "ingest.workers"),
        ("chunk_pages: 0", "ingest.chunk_pages"),
    ],
)
def test_bad_value_exits_2_naming_file_and_key(
    previous: dict, capsys: pytest.CaptureFixture, body: str, key: str
) -> None:
    params = write_params(previous["tmp"] / "bad.yaml", body)
    capsys.readouterr()
    assert stage(params, previous["src"], previous["out"]) == 2
    line = error_line(capsys)
    assert f"{params}: {key}:" in line, line
    assert snapshot(previous["out"]) == previous["before"]
