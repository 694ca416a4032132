"""The tesseract CLI, run so that it cannot hang ingest, and asked once whether it is there at all.

`run` gives every call a time budget; a call past it is killed with its whole process group (the children of a
wrapper script too), not just abandoned, and OcrTimeout is raised. A page's tesseract also dies with the worker
that started it (Linux: PR_SET_PDEATHSIG), so a worker killed for a hang leaves nothing running. `probe` asks for
`--version` and `--list-langs` with the same kind of budget, so "the engine is missing" is said once, up front, and
not discovered as a failure on every scanned page.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tutorforge.core.stage import StageError

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class OcrTimeout(RuntimeError):
    """tesseract ran past its time budget and was killed."""


class OcrEngineMissing(StageError):
    """Some page needs OCR and the OCR engine (or a language it needs) is not usable: one line for the operator."""


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the process that started it dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL proc's process group (it leads one: start_new_session) and reap it; never read its pipes again (a
    grandchild may still hold them open)."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()


def run(
    args: list[str],
    data: bytes = b"",
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = _die_with_parent,
) -> subprocess.CompletedProcess[bytes]:
    """Run `args` with `data` on stdin, output captured; past `timeout` seconds the process group is SIGKILLed and
    OcrTimeout raised. OSError (not found, not executable) propagates."""
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=preexec,
    )
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise OcrTimeout(f"tesseract ran past {timeout:g} s and was killed") from None
    except BaseException:
        _kill(proc)
        raise
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@dataclass(frozen=True)
class Engine:
    """What `probe` found: the version line, or why the engine is unusable; installed languages when listed."""

    cmd: str
    version: str | None
    problem: str | None = None
    languages: frozenset[str] | None = None

    def missing_languages(self, language: str) -> list[str]:
        """The languages of a tesseract `-l` value ("eng+deu") without installed data ([] when unknown)."""
        if self.languages is None:
            return []
        return [lang for lang in language.split("+") if lang and lang not in self.languages]


def _ask(cmd: str, flag: str, timeout: float) -> tuple[str | None, str | None]:
    """(output of `cmd flag`, None) or (None, why it is unusable)."""
    try:
        res = run([cmd, flag], timeout=timeout, preexec=None)  # the parent may have threads: no preexec_fn
    except FileNotFoundError:
        return None, "not found"
    except PermissionError:
        return None, "not executable (permission denied)"
    except OSError as e:
        return None, f"cannot be started ({e.strerror or e})"
    except OcrTimeout:
        return None, f"did not answer `{flag}` within {timeout:g} s"
    text = (res.stdout or res.stderr).decode("utf-8", errors="replace")  # tesseract 3 wrote both to stderr
    if res.returncode != 0:
        return None, f"`{flag}` failed with exit status {res.returncode}"
    return text, None


def probe(cmd: str, timeout: float) -> Engine:
    """Ask `cmd` for its version and languages, each within `timeout` seconds."""
    text, problem = _ask(cmd, "--version", timeout)
    if text is None:
        return Engine(cmd, None, problem)
    version = next((line.strip() for line in text.splitlines() if line.strip()), "unknown")
    listed, _ = _ask(cmd, "--list-langs", timeout)
    languages = None
    if listed and "List of available languages" in listed:
        languages = frozenset(
            ln.strip() for ln in listed.split("List of available languages", 1)[1].splitlines()[1:] if ln.strip()
        )
    return Engine(cmd, version, None, languages)
