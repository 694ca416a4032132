"""The served tutor reads a student's diagram: an OpenAI image part in /v1/chat/completions (through the official
openai client, whole and streamed) and POST /upload_image answer with the subject, the 3D catalogue entry and its
animation, and the LM's explanation after that lead. A real `tutorforge serve` on the untuned SmolLM2 bundle, whose
vision/encoder is a small encoder trained here on three labels (tests/support/diagram_encoder.py) and measured on
seeds it never saw. The server runs with small image limits (a params copy) so that the limits are cheap to cross."""

from __future__ import annotations

import http.server
import io
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from PIL import Image

from tests.support.bundles import make_bundle
from tests.support.diagram_encoder import TrainedEncoder, data_url, diagram_encoder, diagram_png
from tests.support.sample_index import ROOT, build_sample_index
from tests.support.servers import Server, tutor_server
from tests.test_serve import TOKEN, call, client, one_line, run_serve

MAX_IMAGE_BYTES = 120_000
MAX_IMAGE_PIXELS = 250_000  # 500 x 500
HEART = diagram_png("human_heart", seed=104, style=1)  # held out: the encoder trained on seeds 0-59
CIRCUIT = diagram_png("series_circuit", seed=107, style=2)
WATER = diagram_png("water_molecule", seed=100, style=1)
NO_ENCODER = "this tutor has no diagram encoder (serve.vision_encoder)"


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> TrainedEncoder:
    return diagram_encoder(tmp_path_factory)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_index(tmp_path_factory.mktemp("sample"))


def small_limits(work: Path, **serve: Any) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["serve"] |= {"max_image_bytes": MAX_IMAGE_BYTES, "max_image_pixels": MAX_IMAGE_PIXELS, **serve}
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def bundle_with_encoder(root: Path, index: Path, encoder: TrainedEncoder) -> Path:
    """A folder laid out like a registry version, with the vision stage's vision/encoder."""
    bundle = make_bundle(root, index)
    shutil.copytree(encoder.path, bundle / "vision" / "encoder")
    return bundle


@pytest.fixture(scope="module")
def server(sample: Path, encoder: TrainedEncoder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("serve-diagrams")
    bundle = bundle_with_encoder(work / "bundle", sample / "index", encoder)
    with tutor_server(work, "--model", str(bundle), token=TOKEN, params=small_limits(work)) as srv:
        yield srv


def image_message(text: str | None, *urls: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text is not None else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return [{"role": "user", "content": parts}]


def png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(srv: Server, data: bytes, question: str | None = None, token: str = TOKEN) -> httpx.Response:
    form = {"question": question} if question is not None else None
    return httpx.post(
        srv.url + "/upload_image",
        files={"file": ("diagram.png", data, "image/png")},
        data=form,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


# ---- the encoder the server reads with ----------------------------------------------------------------------------
def test_the_trained_encoder_recognises_diagrams_it_never_saw(encoder: TrainedEncoder):
    print(f"diagram encoder: {encoder.train_seconds:.1f} s of training, held-out top-1 {encoder.held_out_accuracy}")
    assert encoder.held_out_accuracy >= 0.9  # chance is 1/3; every style, seeds 100-119


def test_the_encoder_comes_from_the_bundle_or_serve_vision_encoder(encoder: TrainedEncoder, tmp_path: Path):
    import time

    from tutorforge.serve.bundle import from_registry, vision_folder
    from tutorforge.serve.config import ServeConfig
    from tutorforge.serve.diagrams import load_reader
    from tutorforge.vision.encoder import EncoderError

    assert load_reader(ServeConfig(), None) is None  # "" and a bundle without one: no diagram reading
    assert load_reader(ServeConfig(vision_encoder="none"), encoder.path) is None  # switched off
    t0 = time.perf_counter()
    reader = load_reader(ServeConfig(), encoder.path)
    assert reader is not None and time.perf_counter() - t0 < 1.0
    assert reader.class_emb[0] == ["human_heart", "series_circuit", "water_molecule"]  # from its config.json
    assert load_reader(ServeConfig(vision_encoder=str(encoder.path)), None) is not None  # named outright
    with pytest.raises(EncoderError, match="nowhere"):
        load_reader(ServeConfig(vision_encoder=str(tmp_path / "nowhere")), encoder.path)
    assert vision_folder(tmp_path) is None
    (tmp_path / "vision" / "encoder").mkdir(parents=True)
    assert vision_folder(tmp_path) is None  # a folder without a model is not an encoder

    # a registry version that carries vision/encoder (what the register stage uploads) brings it along
    from tutorforge.registry.register import RegisterConfig
    from tutorforge.registry.registry import Registry
    from tutorforge.registry.store import open_store

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    reg = Registry(open_store(str(tmp_path / "registry")))
    version, _ = reg.register("tutorforge-tutor", {"sft/merged": model, "vision/encoder": encoder.path})
    cfg = ServeConfig(cache_dir=str(tmp_path / "cache"))
    bundle = from_registry(version, cfg, RegisterConfig(registry=str(tmp_path / "registry")))
    assert bundle.vision_dir == tmp_path / "cache" / "tutorforge-tutor" / version / "vision" / "encoder"
    assert load_reader(cfg, bundle.vision_dir) is not None


# ---- chat completions with an image part ----------------------------------------------------------------------------
def test_a_heart_diagram_is_answered_with_its_subject_model_animation_and_an_explanation(server: Server):
    question = "show me how blood flows"
    resp = client(server).chat.completions.create(
        model="bundle", messages=image_message(question, data_url(HEART)), max_tokens=48
    )
    diagram = resp.model_extra["diagram"]
    assert diagram["label"] == "human_heart" and diagram["subject"] == "biology", diagram
    assert diagram["model"] == {
        "model_id": "human_heart",
        "asset": "models/human_heart.glb",
        "animations": ["heartbeat", "blood_flow"],
        "animation": "blood_flow",  # what the question asks for
    }
    content = resp.choices[0].message.content
    lead, _, rest = content.partition("\n\n")
    assert lead == (
        f"This looks like a biology diagram of the human heart (confidence {diagram['confidence']:.2f}). "
        "3D model: human_heart (models/human_heart.glb), opened with the blood_flow animation; also: heartbeat."
    ), content
    explanation, _, sources = rest.partition("\n\nSources: ")
    assert len(explanation.split()) >= 3 and sources, content  # the LM's words after the lead, then the pages
    assert resp.model_extra["citations"] and not resp.model_extra.get("tool_results")  # no tool step for an image
    # the LM was told what the picture shows: the same text without the image is a shorter prompt
    plain = client(server).chat.completions.create(
        model="bundle", messages=[{"role": "user", "content": question}], max_tokens=4, tool_choice="none"
    )
    assert resp.usage.prompt_tokens >= plain.usage.prompt_tokens + 10, (resp.usage, plain.usage)
    assert "diagram" not in plain.model_extra and not plain.choices[0].message.content.startswith("This looks like")
    # the raw response carries the reading at the top level, as it carries the citations
    raw = client(server).chat.completions.with_raw_response.create(
        model="bundle", messages=image_message(None, data_url(HEART)), max_tokens=8
    )
    body = json.loads(raw.http_response.text)
    assert body["diagram"]["label"] == "human_heart" and body["diagram"]["model"]["animation"] == "heartbeat"
    assert body["choices"][0]["message"]["content"].startswith("This looks like a biology diagram of the human heart")


def test_a_streamed_circuit_answer_starts_with_the_lead_that_carries_the_diagram(server: Server):
    stream = client(server).chat.completions.create(
        model="bundle",
        messages=image_message("how does the current flow round it?", data_url(CIRCUIT)),
        max_tokens=32,
        stream=True,
    )
    chunks = list(stream)
    texts = [(c.choices[0].delta.content or "") if c.choices else "" for c in chunks]
    first = next(i for i, t in enumerate(texts) if t)
    with_diagram = [i for i, c in enumerate(chunks) if (c.model_extra or {}).get("diagram")]
    assert with_diagram == [first] == [0], (with_diagram, first)  # the first chunk: the lead and the reading
    diagram = chunks[0].model_extra["diagram"]
    assert diagram["label"] == "series_circuit" and diagram["subject"] == "physics"
    assert diagram["model"]["model_id"] == "electric_circuit" and diagram["model"]["animation"] == "current_flow"
    assert texts[0] == (
        f"This looks like a physics diagram of a series circuit (confidence {diagram['confidence']:.2f}). "
        "3D model: electric_circuit (models/electric_circuit.glb), opened with the current_flow animation; "
        "also: switch_toggle."
    )
    rest = "".join(texts[1:])
    assert rest.startswith("\n\n") and sum(bool(t) for t in texts[1:]) >= 4, texts  # the explanation, streamed
    explanation = rest[2:].partition("\n\nSources: ")[0]
    assert len(explanation.split()) >= 3 and "\n\nSources: " in rest


def test_images_of_earlier_messages_are_not_read_but_their_text_is(server: Server):
    earlier = image_message("this is my homework", "data:image/png;base64,@@@not-read@@@")[0]
    messages = [earlier, {"role": "assistant", "content": "Ask me about it."}, {"role": "user", "content": "Why?"}]
    resp = client(server).chat.completions.create(model="bundle", messages=messages, max_tokens=4)
    assert "diagram" not in resp.model_extra and resp.choices[0].message.content


class Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(HEART)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def image_host() -> Iterator[str]:
    """An HTTP server that would serve a real diagram, and records whether anyone asked."""
    Recorder.hits = []
    host = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=host.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{host.server_address[1]}/heart.png"
    finally:
        host.shutdown()
        host.server_close()


def bad_request(srv: Server, messages: list[dict[str, Any]]) -> str:
    with pytest.raises(openai.BadRequestError) as caught:
        client(srv).chat.completions.create(model="bundle", messages=messages, max_tokens=4)
    assert caught.value.status_code == 400
    body = caught.value.body
    error = body.get("error", body) if isinstance(body, dict) else None  # the whole body or its error, by version
    assert isinstance(error, dict) and error.get("type") == "invalid_request_error", body  # the OpenAI error shape
    message = error["message"]
    assert "\n" not in message and "Traceback" not in message
    return message


def test_images_the_tutor_will_not_read_get_400(server: Server, image_host: str):
    import numpy as np

    assert "only data:image" in bad_request(server, image_message("what is it?", image_host))
    assert Recorder.hits == []  # the server never fetched the URL it was given
    assert "base64 data is not valid" in bad_request(server, image_message("x", "data:image/png;base64,@@no@@"))
    not_image = data_url(b"just some text, not a picture at all")
    assert "not a PNG, JPEG, GIF or WebP" in bad_request(server, image_message("x", not_image))
    cut = data_url(HEART[: len(HEART) // 2])
    assert "cannot be decoded" in bad_request(server, image_message("x", cut))
    big = data_url(png_of(Image.new("RGB", (600, 600), "white")))  # 360,000 pixels; a small file
    assert "more than 250000" in bad_request(server, image_message("x", big))
    assert "at most one image per message (2 given)" in bad_request(
        server, image_message("which is it?", data_url(HEART), data_url(CIRCUIT))
    )
    assert "messages[0]: an image_url part needs image_url.url" in bad_request(
        server, [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]
    )
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    heavy = png_of(Image.fromarray(noise))  # 120 kB of pixels that do not compress
    assert len(heavy) > MAX_IMAGE_BYTES
    assert f"larger than {MAX_IMAGE_BYTES} bytes" in bad_request(server, image_message("x", data_url(heavy)))


def test_a_chat_body_has_room_for_one_image_and_no_more(server: Server):
    from tutorforge.serve.config import ServeConfig
    from tutorforge.serve.diagrams import chat_body_limit

    limit = chat_body_limit(ServeConfig(max_image_bytes=MAX_IMAGE_BYTES))
    assert limit == 65_536 + 160_000 + 1_024
    near = data_url(b"\0" * MAX_IMAGE_BYTES)  # base64 of an image of the most bytes: passes the body limit
    body = json.dumps({"messages": image_message("x", near), "max_tokens": 4}).encode()
    assert 65_536 < len(body) < limit
    status, _, answer = call(server, "POST", "/v1/chat/completions", body=body)
    assert status == 400 and "not a PNG" in answer["error"]["message"], answer  # read, then refused as no picture
    over = json.dumps({"messages": image_message("x", data_url(b"\0" * (limit * 3 // 4)))}).encode()
    status, _, answer = call(server, "POST", "/v1/chat/completions", body=over)
    assert status == 413 and answer["error"]["code"] == "too_large"
    status, _, answer = call(server, "POST", "/context", body=body)
    assert status == 413  # other paths keep max_body_bytes
    wordy = json.dumps({"messages": [{"role": "user", "content": "why? " * 20_000}], "max_tokens": 4}).encode()
    status, _, answer = call(server, "POST", "/v1/chat/completions", body=wordy)  # the room is for an image only
    assert status == 400 and "more than serve.max_body_bytes (65536)" in answer["error"]["message"], answer


# ---- POST /upload_image --------------------------------------------------------------------------------------------
def test_upload_image_returns_the_reading(server: Server):
    resp = upload(server, WATER, question="show me the hydrogen bonding")
    assert resp.status_code == 200, resp.text
    diagram = resp.json()["diagram"]
    assert diagram["label"] == "water_molecule" and diagram["title"] == "a water molecule"
    assert diagram["subject"] == "chemistry" and 0 < diagram["confidence"] <= 1
    assert [lb for lb, _ in diagram["ranked"]][0] == "water_molecule" and len(diagram["ranked"]) == 3
    assert diagram["model"] == {
        "model_id": "water_molecule",
        "asset": "models/water_molecule.glb",
        "animations": ["rotate", "hydrogen_bonding"],
        "animation": "hydrogen_bonding",
    }
    assert upload(server, HEART).json()["diagram"]["label"] == "human_heart"  # no question: fine too
    assert upload(server, HEART, token="wrong").status_code == 401
    resp = upload(server, HEART, question="x" * 2001)
    assert resp.status_code == 422 and "body.question" in resp.json()["error"]["message"]


def test_upload_image_refuses_garbage_with_400_and_oversized_bodies_with_413(server: Server):
    for data, message in (
        (b"GIF89a but not really", "file: image: not a PNG, JPEG, GIF or WebP picture"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "file: image: "),
        (b"", "file: image: empty"),
        (CIRCUIT[: len(CIRCUIT) // 2], "cannot be decoded"),
    ):
        resp = upload(server, data)
        assert resp.status_code == 400, (data[:20], resp.text)
        error = resp.json()["error"]
        assert message in error["message"] and "\n" not in error["message"] and error["type"] == "invalid_request_error"
    resp = upload(server, png_of(Image.new("RGB", (600, 600), "white")))
    assert resp.status_code == 400 and "more than 250000" in resp.json()["error"]["message"]
    resp = upload(server, b"\0" * (MAX_IMAGE_BYTES + 65_536 + 1))  # past the body limit: refused before it is read
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too_large", resp.text
    resp = upload(server, b"\0" * (MAX_IMAGE_BYTES + 1000))  # within the body limit, the file itself too large
    assert resp.status_code == 413 and "serve.max_image_bytes" in resp.json()["error"]["message"], resp.text
    assert call(server, "GET", "/health", token=None)[0] == 200


# ---- a tutor without a diagram encoder, and one whose encoder is broken ----------------------------------------------
def test_a_tutor_without_a_diagram_encoder_says_so(
    sample: Path, encoder: TrainedEncoder, tmp_path_factory: pytest.TempPathFactory
):
    work = tmp_path_factory.mktemp("no-encoder")
    bundle = bundle_with_encoder(work / "bundle", sample / "index", encoder)  # it has one, switched off
    with tutor_server(
        work, "--model", str(bundle), token=TOKEN, params=small_limits(work, vision_encoder="none")
    ) as srv:
        assert NO_ENCODER in bad_request(srv, image_message("what is this?", data_url(HEART)))
        resp = upload(srv, HEART)
        assert resp.status_code == 400 and NO_ENCODER in resp.json()["error"]["message"]
        answer = client(srv).chat.completions.create(
            model="bundle", messages=[{"role": "user", "content": "What is a cell?"}], max_tokens=4
        )
        assert answer.choices[0].message.content  # text questions are answered as ever


def test_an_encoder_that_cannot_be_loaded_stops_the_server_with_one_line(sample: Path, tmp_path: Path):
    bundle = make_bundle(tmp_path / "bundle", sample / "index")
    broken = bundle / "vision" / "encoder"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text('{"model_type": "siglip"}')  # no weights, no tokenizer
    err = one_line(run_serve(tmp_path, "--model", str(bundle)), 1)
    assert "diagram encoder:" in err and str(broken) in err, err
