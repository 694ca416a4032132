"""Session-wide test settings: offline hubs, private Prefect home, project root on sys.path.

Server fixtures (Label Studio, Prefect API, moto S3) live in tests/servers.py and are started for
real, once per session, by the tests that need them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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
