"""Real servers for the integration tests, each started as its own process on 127.0.0.1 and stopped after.

- moto's S3 server (`moto_server`): a real HTTP endpoint that boto3 and DVC talk to.
- Prefect API server (`prefect server start`, SQLite in a temp PREFECT_HOME).
- Label Studio server (its own venv at .venv/opt/label-studio, temp data dir, legacy API token).

Fixtures in tests/conftest.py start them lazily, once per session, only when a test asks for one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/support/<this file>)
VENV_BIN = ROOT / ".venv" / "bin"
LABEL_STUDIO_BIN = ROOT / ".venv" / "opt" / "label-studio" / "bin" / "label-studio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server process in its own process group, with its log file and base URL."""

    name: str
    url: str
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log_tail(self, n: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-n:]
        return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _wait_http(server: Server, path: str, timeout: float, ok=(200,)) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=5) as r:
                if r.status in ok:
                    return
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.5)
    server.stop()
    raise TimeoutError(
        f"{server.name} not ready at {server.url}{path} after {timeout:.0f}s ({last}):\n{server.log_tail()}"
    )


def _spawn(name: str, cmd: list[str], env: dict[str, str], log_dir: Path, url: str) -> Server:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("ab")
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(log_dir),
    )
    return Server(name=name, url=url, proc=proc, log_path=log_path, env=env)


@contextlib.contextmanager
def moto_s3(workdir: Path) -> Iterator[Server]:
    """moto's standalone server (real HTTP on 127.0.0.1)."""
    port = free_port()
    exe = shutil.which("moto_server", path=str(VENV_BIN)) or str(VENV_BIN / "moto_server")
    server = _spawn("moto", [exe, "-H", "127.0.0.1", "-p", str(port)], {}, workdir, f"http://127.0.0.1:{port}")
    try:
        _wait_http(server, "/moto-api/", timeout=60)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def prefect_api(workdir: Path) -> Iterator[Server]:
    """`prefect server start` with SQLite in a private PREFECT_HOME."""
    port = free_port()
    home = workdir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    cmd = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = _spawn("prefect", cmd, env, workdir, f"http://127.0.0.1:{port}/api")
    try:
        _wait_http(server, "/health", timeout=120)
        server.env = {"PREFECT_API_URL": server.url, "PREFECT_HOME": str(home)}
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def label_studio(workdir: Path, token: str = "tutorforge-test-token-0123456789") -> Iterator[Server]:
    """Label Studio from its own venv, a temp data dir, an admin user with a legacy API token."""
    if not LABEL_STUDIO_BIN.exists():
        raise FileNotFoundError(f"{LABEL_STUDIO_BIN} missing: run `TF_WITH_SERVERS=1 bash scripts/bootstrap.sh`")
    port = free_port()
    data_dir = workdir / "label-studio-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "DJANGO_DB": "sqlite",
    }
    cmd = [
        str(LABEL_STUDIO_BIN),
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "-p",
        str(port),
        "--username",
        "admin@tutorforge.test",
        "--password",
        "tutorforge-admin-pw",
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    server = _spawn("label-studio", cmd, env, workdir, f"http://127.0.0.1:{port}")
    try:
        _wait_http(server, "/health", timeout=600)  # first start migrates a fresh DB: ~40 s idle, minutes under load
        server.env = {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": token}
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def tutor_server(
    workdir: Path, *args: str, token: str, env: dict[str, str] | None = None, params: Path = ROOT / "params.yaml"
) -> Iterator[Server]:
    """`tutorforge serve *args` on a free port (cwd `workdir`, so relative paths such as serve.cache_dir land there),
    bearer token `token`, settings from `params`; yields once /health answers."""
    port = free_port()
    cmd = [str(VENV_BIN / "tutorforge"), "serve", "--params", str(params), "--port", str(port), *args]
    server = _spawn("tutor", cmd, {"TUTORFORGE_API_TOKEN": token, **(env or {})}, workdir, f"http://127.0.0.1:{port}")
    try:
        _wait_http(server, "/health", 120)
        yield server
    finally:
        server.stop()
