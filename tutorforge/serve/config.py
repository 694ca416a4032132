"""params.yaml [serve]: what `tutorforge serve` loads and the limits it enforces.

cfg = load_config(ServeConfig, "serve")   # ServeConfig(model="registry:production", port=8000, ...)
"""

from __future__ import annotations

from dataclasses import dataclass

from tutorforge.core.config import PositiveInt, section

TOKEN_ENV = "TUTORFORGE_API_TOKEN"  # the bearer token: from the environment only, never a param


@section("serve")
@dataclass
class ServeConfig:
    model: str = "registry:production"
    """What to serve: `registry:<alias or version>` of the [register] registry (downloaded once into cache_dir, every
    file's sha256 verified), a folder laid out like a registry version (sft/merged + index; `artifacts` is one), or
    an HF model folder (then `index` names the textbook index)."""
    index: str = ""
    """Textbook index folder (stages/index.py); "" = the one inside `model` (a registry version carries its own)."""
    cache_dir: str = ".cache/serve"
    """Where registry versions are downloaded (<cache_dir>/<name>/<version>), reused while their checksums hold."""
    host: str = "127.0.0.1"
    """Interface to listen on (0.0.0.0 exposes the tutor to the network: keep the token secret)."""
    port: PositiveInt = 8000
    """TCP port."""
    max_body_bytes: PositiveInt = 65536
    """Largest request body accepted (413 above it), read before any JSON parsing."""
    context_k: PositiveInt = 3
    """Chunks retrieved per question (the tutor's grounding and /context's default k)."""
    max_context_k: PositiveInt = 20
    """Largest k /context accepts (422 above it)."""
    max_query_chars: PositiveInt = 2000
    """Longest /context query accepted (422 above it)."""

    def __post_init__(self) -> None:
        if self.context_k > self.max_context_k:
            raise ValueError(f"serve.context_k: {self.context_k} > max_context_k ({self.max_context_k})")
