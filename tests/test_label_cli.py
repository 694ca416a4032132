"""`tutorforge label …` configuration mistakes: every command answers one line on stderr and exit code 2 (never a
traceback, never a retry loop against a URL that cannot work). Runtime failures (server down) stay exit code 1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import VENV_BIN, free_port

COMMANDS = ["bootstrap", "push", "pull", "select-push"]
GOOD = {"LABEL_STUDIO_URL": "http://127.0.0.1:9", "LABEL_STUDIO_API_KEY": "token-0123"}

MISTAKES: dict[str, tuple[dict[str, str], str, str]] = {
    # name: (environment over GOOD, params.yaml text, what the message must name)
    "missing_url": ({"LABEL_STUDIO_URL": ""}, "", "LABEL_STUDIO_URL"),
    "missing_token": ({"LABEL_STUDIO_API_KEY": ""}, "", "LABEL_STUDIO_API_KEY"),
    "attempts_not_a_number": ({"TUTORFORGE_LS_ATTEMPTS": "abc"}, "", "TUTORFORGE_LS_ATTEMPTS"),
    "attempts_zero": ({"TUTORFORGE_LS_ATTEMPTS": "0"}, "", "TUTORFORGE_LS_ATTEMPTS"),
    "timeout_nan": ({"TUTORFORGE_LS_TIMEOUT": "nan"}, "", "TUTORFORGE_LS_TIMEOUT"),
    "base_delay_negative": ({"TUTORFORGE_LS_BASE_DELAY": "-1"}, "", "TUTORFORGE_LS_BASE_DELAY"),
    "url_without_scheme": ({"LABEL_STUDIO_URL": "127.0.0.1:8080"}, "", "LABEL_STUDIO_URL"),
    "url_bad_port": ({"LABEL_STUDIO_URL": "http://127.0.0.1:99999"}, "", "LABEL_STUDIO_URL"),
    "url_no_host": ({"LABEL_STUDIO_URL": "http://"}, "", "LABEL_STUDIO_URL"),
    "url_with_spaces": ({"LABEL_STUDIO_URL": "http://label studio:8080"}, "", "LABEL_STUDIO_URL"),
    "params_bad_type": ({}, "label_studio:\n  attempts: many\n", "label_studio.attempts"),
    "params_unknown_kind": ({}, "label_studio:\n  kinds: [qa, bogus]\n", "bogus"),
}


def _env(over: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "TUTORFORGE_LS_"))}
    return {k: v for k, v in {**base, **GOOD, **over}.items() if v != ""}


def _run_all(cwd: Path, commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """The commands side by side (each is a fresh `tutorforge` process)."""
    exe = str(VENV_BIN / "tutorforge")
    procs = [
        subprocess.Popen(
            [exe, "label", *c], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    out = []
    for c, p in zip(commands, procs, strict=True):
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess([exe, "label", *c], p.returncode, stdout, stderr))
    return out


def _assert_one_line(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == code, (proc.args, proc.returncode, proc.stderr)
    assert "Traceback" not in err and len(err.splitlines()) == 1, (proc.args, err)
    assert err.startswith("error: ") and needle in err, (proc.args, err)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_every_label_command_reports_config_mistakes_in_one_line(tmp_path: Path, mistake: str) -> None:
    over, params, needle = MISTAKES[mistake]
    (tmp_path / "params.yaml").write_text(params or "label_studio:\n  attempts: 2\n")
    for proc in _run_all(tmp_path, [[c] for c in COMMANDS], _env(over)):
        _assert_one_line(proc, 2, needle)


def test_unknown_kind_is_a_config_mistake(tmp_path: Path) -> None:
    procs = _run_all(tmp_path, [["push", "--kind", "bogus"], ["pull", "--kind", "bogus"]], _env({}))
    for proc in procs:
        _assert_one_line(proc, 2, "bogus")
        assert "section_label" in proc.stderr  # the message lists the kinds there are


def test_server_down_is_exit_1_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = _env({"LABEL_STUDIO_URL": url, "TUTORFORGE_LS_ATTEMPTS": "1"})
    (proc,) = _run_all(tmp_path, [["pull"]], env)
    _assert_one_line(proc, 1, url)


def test_missing_or_broken_input_file_is_exit_1_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.jsonl").write_text('{"section_id": "a"}\n{not json\n')
    procs = _run_all(
        tmp_path,
        [["push", "--sections", "missing.jsonl"], ["push", "--sections", "broken.jsonl"]],
        _env({}),
    )
    _assert_one_line(procs[0], 1, "missing.jsonl not found")
    _assert_one_line(procs[1], 1, "broken.jsonl:2")
