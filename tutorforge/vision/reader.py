"""Read a student's diagram: image bytes -> label, subject, 3D catalogue entry and the animation the question asks for.

    reader = DiagramReader.load("artifacts/vision/encoder", models3d)
    reading = reader.read(decode_image(png_bytes, max_pixels=16_000_000), "show me how blood flows")
    # {"label": "human_heart", "title": "the human heart", "subject": "biology", "confidence": 0.41,
    #  "ranked": [["human_heart", 0.41], ["neuron", 0.12], ["animal_cell", 0.08]],
    #  "model": {"model_id": "human_heart", "asset": "models/human_heart.glb",
    #            "animations": ["heartbeat", "blood_flow"], "animation": "blood_flow"}}

Classification is the encoder's zero-shot ranking against its class prompts (embedded once, at load); confidence is
the cosine similarity (comparable between images of one encoder, not a probability). The animation is the one of
the model's catalogue entry whose student phrasing (diagrams/phrasebook.py) and name share the most words with the
question; none shared (or no question): the entry's first animation.

Images arrive from clients: `decode_image` accepts PNG, JPEG, GIF and WebP only, refuses a picture larger than
`max_pixels` before decoding its pixels (a decompression bomb), and reports anything unreadable in one line;
`data_url_bytes` reads only `data:image/...;base64,` URLs (the server never fetches a URL it is given).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from tutorforge.vision.encoder import DiagramEncoder

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp);base64,", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")
_STOP = frozenset("a an and the of to me show can i it is in how what see does do if on this these them we get".split())


class ImageInputError(ValueError):
    """An image the tutor will not read (the one-line reason, for a 400)."""


def data_url_bytes(url: str, max_bytes: int) -> bytes:
    """The bytes of a base64 `data:image/<png|jpeg|gif|webp>;base64,...` URL, at most `max_bytes` of them."""
    match = _DATA_URL.match(url)
    if not match:
        head = url.split(",", 1)[0][:40]
        raise ImageInputError(f"image_url: only data:image/(png|jpeg|gif|webp);base64 URLs are read, not {head!r}")
    payload = url[match.end() :]
    if len(payload) > (max_bytes * 4) // 3 + 4:
        raise ImageInputError(f"image_url: image larger than {max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageInputError("image_url: the base64 data is not valid") from None
    if len(data) > max_bytes:
        raise ImageInputError(f"image_url: image larger than {max_bytes} bytes")
    return data


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """RGB image of `data`; ImageInputError for anything not a whole PNG/JPEG/GIF/WebP of at most max_pixels."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageInputError("image: empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only: the size is known before any pixels
            fmt, (w, h) = probe.format, probe.size
            if fmt not in IMAGE_FORMATS:
                raise ImageInputError(f"image: {fmt} is not one of {', '.join(IMAGE_FORMATS)}")
            if w * h > max_pixels:
                raise ImageInputError(f"image: {w}x{h} is {w * h} pixels, more than {max_pixels}")
            probe.load()
            return probe.convert("RGB")
    except ImageInputError:
        raise
    except UnidentifiedImageError:
        raise ImageInputError("image: not a PNG, JPEG, GIF or WebP picture") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:  # truncated or corrupt data
        raise ImageInputError(f"image: cannot be decoded ({str(e).splitlines()[0][:120]})") from None


def choose_animation(question: str, animations: Sequence[str]) -> str | None:
    """The animation whose phrasing shares most words with the question (ties, none shared: the first listed)."""
    from tutorforge.vision.diagrams.phrasebook import request_for

    if not animations:
        return None
    words = set(_WORD.findall(question.lower())) - _STOP
    best, best_score = animations[0], 0
    for name in animations:
        phrase = set(_WORD.findall(f"{request_for(name)} {name.replace('_', ' ')}".lower())) - _STOP
        score = len(words & phrase)
        if score > best_score:
            best, best_score = name, score
    return best


@dataclass
class DiagramReader:
    encoder: DiagramEncoder
    class_emb: tuple[list[str], Any]
    """(labels, their prompt embeddings): computed once at load."""
    models3d: Mapping[str, Mapping[str, Any]]
    """The 3D catalogue (serve.models3d): model id -> {asset, animations}."""
    top_k: int = 3
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, ref: str, models3d: Mapping[str, Mapping[str, Any]], top_k: int = 3) -> DiagramReader:
        """Load the encoder `ref` (dir or hub id; EncoderError if it cannot be) and embed its class prompts: the
        labels and prompts the vision stage trained it with (saved in its config.json), else every label with
        the default prompts (a pretrained CLIP/SigLIP used zero-shot)."""
        from tutorforge.vision.diagrams import KINDS
        from tutorforge.vision.encoder import class_embeddings, load_encoder
        from tutorforge.vision.train import DEFAULT_PROMPTS

        encoder = load_encoder(ref)
        labels = [lb for lb in getattr(encoder.model.config, "diagram_labels", None) or KINDS if lb in KINDS]
        prompts = getattr(encoder.model.config, "diagram_prompts", None) or DEFAULT_PROMPTS
        texts = {lb: [p.format(title=KINDS[lb].title, subject=KINDS[lb].subject) for p in prompts] for lb in labels}
        return cls(encoder, class_embeddings(encoder, texts), models3d, top_k)

    def read(self, image: Image.Image, question: str = "") -> dict[str, Any]:
        """Classify one diagram and recommend its 3D model (see the module docstring for the shape)."""
        from tutorforge.vision.diagrams import KINDS
        from tutorforge.vision.encoder import zero_shot

        with self._lock:  # one forward pass at a time: torch already uses every core for one
            ranked = zero_shot(self.encoder, [image], class_emb=self.class_emb)[0]
        label, confidence = ranked[0]
        kind = KINDS[label]
        entry = self.models3d.get(kind.model_id) or {}
        animations = list(entry.get("animations") or [])
        return {
            "label": label,
            "title": kind.title,
            "subject": kind.subject,
            "confidence": round(confidence, 4),
            "ranked": [[lb, round(s, 4)] for lb, s in ranked[: self.top_k]],
            "model": {
                "model_id": kind.model_id,
                "asset": entry.get("asset"),
                "animations": animations,
                "animation": choose_animation(question, animations),
            },
        }
