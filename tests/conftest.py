"""Session-wide test settings: offline hubs, private Prefect home; server fixtures started for real (tests/support).

Server fixtures (Label Studio, Prefect API, moto S3) live in tests/servers.py and are started for
real, once per session, by the tests that need them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("LABEL_STUDIO_LATEST_VERSION_CHECK", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
_cache = ROOT / ".cache" / "test-home"
_cache.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("PREFECT_HOME", str(_cache / "prefect"))
os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(ROOT / ".cache" / "torch_extensions"))


@pytest.fixture(scope="session")
def root() -> Path:
    """The project root (tests run stage code against it or against copies of it)."""
    return ROOT


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on 127.0.0.1 with throwaway credentials in the environment."""
    from tests.support.servers import moto_s3

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real Prefect API server (SQLite) on 127.0.0.1."""
    from tests.support.servers import prefect_api

    with prefect_api(tmp_path_factory.mktemp("prefect")) as server:
        yield server


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory):
    """A real Label Studio server on 127.0.0.1 (its own venv), admin token in server.env."""
    from tests.support.servers import label_studio

    with label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server
