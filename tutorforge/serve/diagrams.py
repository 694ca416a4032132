"""Diagrams a student sends: read by the bundle's diagram encoder (tutorforge/vision/reader.py), answered with the
subject, the 3D catalogue entry and its animation.

    POST /upload_image   multipart: file=@heart.png (the picture), question="show me how blood flows" (optional)
    -> {"diagram": {"label": "human_heart", "title": "the human heart", "subject": "biology", "confidence": 0.41,
                    "ranked": [["human_heart", 0.41], ...],
                    "model": {"model_id": "human_heart", "asset": "models/human_heart.glb",
                              "animations": ["heartbeat", "blood_flow"], "animation": "blood_flow"}}}

In a chat request the same reading comes from the last user message's `image_url` part (tutorforge/serve/chat.py);
the reply starts with `lead(reading)`:

    "This looks like a biology diagram of the human heart (confidence 0.41). 3D model: human_heart
     (models/human_heart.glb), opened with the blood_flow animation; also: heartbeat."

and the tutor's LM explains the topic from the student's text with `note(reading)` appended. Refused with 400: a
picture that is not a whole PNG/JPEG/GIF/WebP, one over `serve.max_image_pixels`, and any image when the tutor has no
diagram encoder (`serve.vision_encoder`); an upload over `serve.max_image_bytes` gets 413. Only data the client sends
is read: the server never fetches a URL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from tutorforge.core.logs import get_logger
from tutorforge.serve.config import ServeConfig
from tutorforge.vision.encoder import quiet_transformers
from tutorforge.vision.reader import DiagramReader, ImageInputError, decode_image

log = get_logger("serve")

UPLOAD_PATH = "/upload_image"
CHAT_PATH = "/v1/chat/completions"
NO_ENCODER = "this tutor has no diagram encoder (serve.vision_encoder)"
DEFAULT_QUESTION = "What does this diagram show?"
"""What the LM is asked about a diagram sent without text."""
OFF = "none"
UPLOAD_OVERHEAD = 65_536
"""Bytes of an /upload_image body beyond the picture: the multipart boundaries, headers and the question."""
CHAT_OVERHEAD = 1_024
"""Bytes of a chat body beyond max_body_bytes and the image's base64: the data URL's prefix and the part's JSON."""


def load_reader(cfg: ServeConfig, bundle_encoder: Path | None) -> DiagramReader | None:
    """The diagram reader `serve.vision_encoder` names ("" = the bundle's encoder, if any; "none" = none).
    Raises tutorforge.vision.encoder.EncoderError (one line, naming the encoder) when it cannot be loaded."""
    ref = cfg.vision_encoder.strip()
    if ref.lower() == OFF:
        return None
    if not ref:
        if bundle_encoder is None:
            return None
        ref = str(bundle_encoder)
    with quiet_transformers():
        reader = DiagramReader.load(ref, cfg.models3d)
    log.info("diagrams: encoder %s reads %d labels", ref, len(reader.class_emb[0]))
    return reader


def read_diagram(reader: DiagramReader, data: bytes, max_pixels: int, question: str) -> dict[str, Any]:
    """The reading of the picture `data` (blocking: call it off the event loop); ImageInputError for a bad picture."""
    return reader.read(decode_image(data, max_pixels), question)


def lead(reading: dict[str, Any]) -> str:
    """The reply's first paragraph, written from the reading (deterministic: no LM involved)."""
    model = reading.get("model") or {}
    text = f"This looks like a {reading['subject']} diagram of {reading['title']} (confidence {reading['confidence']:.2f})."
    if not model.get("model_id"):
        return text
    where = f" ({model['asset']})" if model.get("asset") else ""
    text += f" 3D model: {model['model_id']}{where}"
    chosen = model.get("animation")
    if not chosen:
        return text + "."
    others = [a for a in model.get("animations") or [] if a != chosen]
    return text + f", opened with the {chosen} animation" + (f"; also: {', '.join(others)}." if others else ".")


def note(reading: dict[str, Any]) -> str:
    """What the LM is told about the picture, after the student's text (it cannot see images itself)."""
    return f"(The attached diagram shows {reading['title']}, a {reading['subject']} diagram.)"


def chat_body_limit(cfg: ServeConfig) -> int:
    """The body limit of /v1/chat/completions: max_body_bytes + the base64 size of a max_image_bytes image + a little."""
    return cfg.max_body_bytes + 4 * math.ceil(cfg.max_image_bytes / 3) + CHAT_OVERHEAD


def add_diagram_routes(
    app: FastAPI, cfg: ServeConfig, authorized: Callable[..., None], reader: DiagramReader | None
) -> dict[str, int]:
    """Add POST /upload_image to `app`; returns the body limits of the paths that carry images, for BodyLimit."""

    @app.post(UPLOAD_PATH, dependencies=[Depends(authorized)])
    async def upload_image(
        file: Annotated[UploadFile, File()],
        question: Annotated[str, Form()] = "",
    ) -> dict[str, Any]:
        if len(question) > cfg.max_query_chars:  # (annotations are resolved as module globals: no cfg in them)
            raise HTTPException(422, f"body.question: longer than {cfg.max_query_chars} characters")
        if reader is None:
            raise HTTPException(400, NO_ENCODER)
        data = await file.read()  # at most max_image_bytes + 64 KiB: BodyLimit counted the body before it got here
        if len(data) > cfg.max_image_bytes:
            raise HTTPException(413, f"file: image larger than {cfg.max_image_bytes} bytes (serve.max_image_bytes)")
        try:
            reading = await run_in_threadpool(read_diagram, reader, data, cfg.max_image_pixels, question)
        except ImageInputError as e:
            raise HTTPException(400, f"file: {e}") from None
        log.info("diagrams: upload of %d bytes read as %s (%.2f)", len(data), reading["label"], reading["confidence"])
        return {"diagram": reading}

    return {UPLOAD_PATH: cfg.max_image_bytes + UPLOAD_OVERHEAD, CHAT_PATH: chat_body_limit(cfg)}
