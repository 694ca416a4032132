"""params.yaml [serve]: what `tutorforge serve` loads and the limits it enforces.

cfg = load_config(ServeConfig, "serve")   # ServeConfig(model="registry:production", port=8000, ...)
"""

from __future__ import annotations

from dataclasses import dataclass

from tutorforge.core.config import NonNegInt, PositiveInt, section

MODES = ("direct", "socratic")
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

    max_tokens: PositiveInt = 512
    """Largest `max_tokens` a chat request may ask for (400 above it)."""
    default_max_tokens: PositiveInt = 160
    """Tokens generated when a request names no `max_tokens`."""
    max_messages: PositiveInt = 64
    """Most messages one chat request may carry (the history is the client's to trim)."""
    max_waiting: PositiveInt = 64
    """Chat requests in flight (generating or queued for the batch) before new ones get 429 with Retry-After."""
    max_batch: PositiveInt = 16
    """Requests decoded together in one step of the continuous batch."""
    cb_num_blocks: PositiveInt = 32
    """KV-cache pages of 256 tokens reserved for the batch (SmolLM2-135M fp32: ~12 MB a page)."""
    cb_max_batch_tokens: PositiveInt = 512
    """Tokens (prefill + decode) one batch step processes at most."""
    torch_threads: NonNegInt = 0
    """CPU threads for generation (0 = torch's default)."""
    mode: str = "direct"
    """Default tutoring mode when a request names none: direct (answers, citing pages) | socratic (guiding questions,
    never the answer). The system prompts are the ones SFT trained with ([dataset] system_prompt,
    socratic_system_prompt)."""
    sessions_db: str = ".cache/serve/sessions.sqlite"
    """SQLite file of POST /chat conversations (kept across restarts)."""
    cite_candidates: PositiveInt = 5
    """Chunks retrieved for a chat question; re-ranked by question + answer, they give the cited pages."""
    max_citations: PositiveInt = 2
    """Distinct textbook pages cited under an answer (from the retrieved chunks, best first)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"serve.mode: {self.mode!r} not in {list(MODES)}")
        if self.default_max_tokens > self.max_tokens:
            raise ValueError(f"serve.default_max_tokens: {self.default_max_tokens} > max_tokens ({self.max_tokens})")
        if self.context_k > self.max_context_k:
            raise ValueError(f"serve.context_k: {self.context_k} > max_context_k ({self.max_context_k})")
