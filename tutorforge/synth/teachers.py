"""Teacher LMs behind one interface: a local Hugging Face causal LM, or an OpenAI-compatible endpoint (vLLM).

    teacher = HFTeacher("smollm2")                         # any local HF dir, or the SmolLM2 alias
    teacher = OpenAITeacher("Qwen/Qwen2.5-7B-Instruct")    # URL + key from TUTORFORGE_TEACHER_BASE_URL / _API_KEY
    outs = teacher.generate([[{"role": "user", "content": "Hi"}]], max_new_tokens=64, temperature=0.7, seed=1)

`generate` returns one string per prompt, in order. With `tools=` (OpenAI function specs) the OpenAI backend
sends them as `tools` and returns a tool call as the JSON text {"name": ..., "arguments": {...}}; the HF backend
has no native tool calling, so callers describe the tools in the prompt and parse JSON from the text.
The API key is read from the environment only and never logged or written anywhere; redirects are refused (an
error naming the status and the target's origin), so the key never reaches another URL.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from tutorforge.core.logs import get_logger

log = get_logger(__name__)
BASE_URL_ENV = "TUTORFORGE_TEACHER_BASE_URL"
API_KEY_ENV = "TUTORFORGE_TEACHER_API_KEY"


class Teacher(Protocol):
    name: str
    native_tools: bool  # True: `tools=` is sent to the backend; False: tools are described in the prompt only

    def generate(
        self,
        prompts: list[list[dict]],
        max_new_tokens: int,
        temperature: float,
        seed: int,
        tools: list[dict] | None = None,
    ) -> list[str]: ...


class HFTeacher:
    """Batched generation with the model's chat template, left padding and seeded sampling (CPU or GPU)."""

    native_tools = False

    def __init__(self, model: str, batch_size: int = 8, device: str | None = None, threads: int = 0) -> None:
        import torch

        from tutorforge.training.models import load_causal_lm, load_tokenizer, resolve_model

        self.name = model
        self.path = resolve_model(model)
        self.tok = load_tokenizer(self.path)
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = load_causal_lm(self.path).to(self.device).eval()
        self.batch_size, self.threads = batch_size, threads

    def generate(
        self,
        prompts: list[list[dict]],
        max_new_tokens: int,
        temperature: float,
        seed: int,
        tools: list[dict] | None = None,
    ) -> list[str]:
        import torch

        saved = torch.get_num_threads()
        if self.threads:  # on a busy CPU, fewer threads than cores avoids oversubscription (10x slower otherwise)
            torch.set_num_threads(self.threads)
        try:
            return self._generate(prompts, max_new_tokens, temperature, seed)
        finally:
            torch.set_num_threads(saved)

    def _generate(self, prompts: list[list[dict]], max_new_tokens: int, temperature: float, seed: int) -> list[str]:
        import torch

        out: list[str] = []
        for b in range(0, len(prompts), self.batch_size):
            batch = prompts[b : b + self.batch_size]
            texts = [self.tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in batch]
            enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            torch.manual_seed(seed + b)
            sample = temperature > 0
            with torch.no_grad():
                gen = self.model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=sample,
                    temperature=temperature if sample else None,
                    top_p=0.95 if sample else None,
                    top_k=None,
                    pad_token_id=self.tok.pad_token_id,
                )
            new = gen[:, enc["input_ids"].shape[1] :]
            out += [t.strip() for t in self.tok.batch_decode(new, skip_special_tokens=True)]
            log.info("teacher %s: %d/%d prompts", self.name, min(b + self.batch_size, len(prompts)), len(prompts))
        return out


class TeacherHTTPError(RuntimeError):
    pass


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Follow no redirect at all: urllib would resend the Authorization header to the new URL (any origin, and a POST
    turned into a body-less GET); the 3xx then surfaces as an HTTPError that _post reports."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib calls it; None = do not follow
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, without any user:password@ or path (safe to print)."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme or '?'}://{host}" + (f":{port}" if port else "")


class OpenAITeacher:
    """POST {base}/chat/completions per prompt (a few in parallel), with timeouts and bounded retries."""

    native_tools = True

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        concurrency: int = 4,
    ) -> None:
        self.name = model
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV, "")).rstrip("/")
        if not self.base_url:
            raise ValueError(f"teacher backend 'openai' needs {BASE_URL_ENV} (e.g. http://host:8000/v1)")
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:  # urllib's own error would be a traceback
            shown = self.base_url.rsplit("@", 1)[-1]  # never print user:password@
            raise ValueError(
                f"teacher base URL must be http(s)://host[:port]/path, e.g. http://host:8000/v1 (got {shown!r})"
            )
        self.timeout_s, self.max_retries, self.backoff_s, self.concurrency = (
            timeout_s,
            max_retries,
            backoff_s,
            concurrency,
        )

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(API_KEY_ENV)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode("utf-8")
        last = ""
        url = f"{self.base_url}/chat/completions"
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with _OPENER.open(req, timeout=self.timeout_s) as r:
                    return json.loads(r.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
                if 300 <= e.code < 400:  # the key must not follow it anywhere, and its body is not an answer
                    location = e.headers.get("Location")
                    e.close()
                    target = _origin(urllib.parse.urljoin(url, location)) if location else "nowhere (no Location)"
                    raise TeacherHTTPError(
                        f"teacher endpoint answered {last} redirect to {target}: redirects are refused "
                        f"(credentials never follow them); set {BASE_URL_ENV} to the final URL"
                    ) from None
                if e.code < 500 and e.code != 429:
                    raise TeacherHTTPError(f"teacher endpoint answered {last} (not retried)") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last = type(e).__name__
            if attempt < self.max_retries:
                log.warning("teacher request failed (%s), retry %d/%d", last, attempt + 1, self.max_retries)
                time.sleep(self.backoff_s * 2**attempt)
        raise TeacherHTTPError(f"teacher endpoint failed after {self.max_retries + 1} attempts ({last})")

    def _one(
        self, messages: list[dict], max_new_tokens: int, temperature: float, seed: int, tools: list[dict] | None
    ) -> str:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        try:
            resp = self._post(body)
        except TeacherHTTPError as e:
            # vLLM without --enable-auto-tool-choice answers 400 to `tools`: the prompt describes them anyway
            if not tools or "HTTP 400" not in str(e):
                raise
            log.warning("teacher endpoint refused `tools` (HTTP 400): resending with the tools in the prompt only")
            resp = self._post({k: v for k, v in body.items() if k not in ("tools", "tool_choice")})
        try:
            msg = resp["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise TeacherHTTPError("teacher response has no choices[0].message") from None
        calls = msg.get("tool_calls") or []
        if calls:
            fn = calls[0].get("function", calls[0])
            args = fn.get("arguments", {})
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    pass
            return json.dumps({"name": fn.get("name"), "arguments": args}, sort_keys=True)
        return (msg.get("content") or "").strip()

    def generate(
        self,
        prompts: list[list[dict]],
        max_new_tokens: int,
        temperature: float,
        seed: int,
        tools: list[dict] | None = None,
    ) -> list[str]:
        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            futs = [
                pool.submit(self._one, p, max_new_tokens, temperature, seed + i, tools) for i, p in enumerate(prompts)
            ]
            return [f.result() for f in futs]


def make_teacher(backend: str, model: str, **kw: Any) -> Teacher | None:
    """'none' -> None; 'hf' -> HFTeacher(model); 'openai' -> OpenAITeacher(model)."""
    if backend == "none":
        return None
    if backend == "hf":
        return HFTeacher(model, batch_size=kw.get("batch_size", 8), threads=kw.get("threads", 0))
    if backend == "openai":
        return OpenAITeacher(
            model,
            timeout_s=kw.get("timeout_s", 60.0),
            max_retries=kw.get("max_retries", 3),
            concurrency=kw.get("concurrency", 4),
        )
    raise ValueError(f"unknown teacher backend {backend!r}; use none, hf or openai")
