"""The tutor as one object, loaded once from params: what `tutorforge serve` puts behind HTTP and `tutorforge mcp`
behind MCP.

    service = load_service("params.yaml", {"serve.model": "artifacts"})
    service.bundle.model_id            # "artifacts"
    service.tutor.runner.run({"name": "make_quiz", "arguments": {"topic": "osmosis", "n_questions": 2}})

Raises ServiceError (one line) for what cannot be served: no such registry alias, a download that fails verification,
an edited or missing index, an unreadable dataset split (quiz questions, tool-gate examples), a diagram encoder
(serve.vision_encoder, or the bundle's vision/encoder) that cannot be loaded, a backend that refuses the key or does
not serve backend_model. Configuration mistakes surface as load_config's errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutorforge.core.config import load_config
from tutorforge.core.io import read_jsonl
from tutorforge.retrieval.store import IndexLoadError, TextbookIndex
from tutorforge.serve.bundle import Bundle, BundleError, resolve_bundle
from tutorforge.serve.chat import Tutor
from tutorforge.serve.config import ServeConfig
from tutorforge.tools.gate import ToolGate
from tutorforge.tools.runner import ToolRunner
from tutorforge.tools.specs import DEFAULT_CATALOGUE, signatures


class ServiceError(RuntimeError):
    """Nothing servable: the one-line reason."""


@dataclass
class Service:
    cfg: ServeConfig
    bundle: Bundle
    index: TextbookIndex
    tutor: Tutor


def read_split(dataset_dir: Path | None, split: str) -> list[dict[str, Any]]:
    """The records of <dataset_dir>/<split>.jsonl ([] without one)."""
    path = dataset_dir / f"{split}.jsonl" if dataset_dir else None
    return list(read_jsonl(path)) if path and path.is_file() else []


def load_service(params: str, overrides: dict[str, Any] | None = None) -> Service:
    """Resolve the bundle [serve] names, verify and load its index, quiz items and model, and build the tutor."""
    from tutorforge.dataset.build import DatasetConfig
    from tutorforge.eval.evaluate import EvaluateConfig
    from tutorforge.registry.register import RegisterConfig
    from tutorforge.serve.diagrams import load_reader
    from tutorforge.serve.remote_engine import BackendMismatch, open_engine
    from tutorforge.vision.encoder import EncoderError

    cfg = load_config(ServeConfig, "serve", params, overrides or {})
    register_cfg = load_config(RegisterConfig, "register", params)
    dataset_cfg = load_config(DatasetConfig, "dataset", params)  # the system prompts SFT trained with
    tool_prompt = load_config(EvaluateConfig, "evaluate", params).tool_system_prompt  # + signatures, as synth writes it
    try:
        bundle = resolve_bundle(cfg, register_cfg)
        index = TextbookIndex.load(bundle.index_dir)
        quiz = read_split(bundle.dataset_dir, "test")
        train = read_split(bundle.dataset_dir, "train") if cfg.tool_gate else []
    except (BundleError, IndexLoadError) as e:
        raise ServiceError(str(e)) from None
    except (OSError, ValueError) as e:
        raise ServiceError(f"dataset {bundle.dataset_dir}: {e}") from None
    try:  # before the LM: a bad encoder is reported without waiting for the model to load
        reader = load_reader(cfg, bundle.vision_dir)
    except EncoderError as e:
        raise ServiceError(f"diagram encoder: {e}") from None
    gate = ToolGate.from_records(train, index.manifest["embedder"]) if train else None
    runner = ToolRunner(index, quiz, cfg.models3d, search_k=cfg.context_k, quiz_min_similarity=cfg.quiz_min_similarity)
    try:
        engine = open_engine(bundle.model_dir, cfg)  # serve.backend: in process, or an OpenAI-compatible server
    except BackendMismatch as e:  # a server that refuses the key or does not serve backend_model
        raise ServiceError(str(e)) from None
    prompts = {
        "direct": dataset_cfg.system_prompt,
        "socratic": dataset_cfg.socratic_system_prompt,
        "tools": f"{tool_prompt}\n{signatures(DEFAULT_CATALOGUE)}",
    }
    tutor = Tutor(engine, index, cfg, prompts, bundle.model_id, runner=runner, gate=gate, reader=reader)
    return Service(cfg, bundle, index, tutor)
