"""The tutor's web page (GET /, tutorforge/serve/page.py + web/) in a real headless Chromium (selenium, the system's
chromium + chromedriver: nothing downloaded) against a real `tutorforge serve` on the untuned SmolLM2 bundle:
the token prompt and its 401 message, a streamed answer that grows piece by piece, citations that open their source
text, a conversation that continues, keyboard-only use, high contrast and text size, a diagram picture read into its
3D model and explained (the bundle's vision/encoder: tests/support/diagram_encoder.py); plus the HTTP side of the
page's routes (public page and assets, /v1/subjects, /v1/sources/{chunk_id} with hostile ids, bounded metrics
labels)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.bundles import make_bundle
from tests.support.diagram_encoder import diagram_encoder, diagram_png
from tests.support.sample_index import ROOT, build_sample_index
from tests.support.servers import Server, tutor_server
from tests.test_serve import call
from tutorforge.core.io import read_jsonl
from tutorforge.eval.benchmark import load_benchmark

TOKEN = "web-test-token-8c1e4b7d2a9f6e30"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT = ROOT / "test-output" / "web" / "chat.png"
DIAGRAM_SCREENSHOT = ROOT / "test-output" / "web" / "diagram.png"
ANSWER_WAIT = 240  # seconds for one 48-token answer on a busy shared CPU

pytestmark = pytest.mark.integration


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_index(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def chunks(sample: Path) -> dict[str, dict]:
    return {c["chunk_id"]: c for c in read_jsonl(sample / "index" / "chunks.jsonl")}


@pytest.fixture(scope="module")
def server(sample: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("web")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["serve"]["default_max_tokens"] = 48  # the page sends no max_tokens: short answers keep the test quick
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bundle = make_bundle(work / "bundle", sample / "index")
    shutil.copytree(diagram_encoder(tmp_path_factory).path, bundle / "vision" / "encoder")  # reads the page's pictures
    with tutor_server(work, "--model", str(bundle), token=TOKEN, params=work / "params.yaml") as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must not look for (or download) a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


# ---- helpers ------------------------------------------------------------------------------------------------------------
def get(srv: Server, path: str, token: str | None = TOKEN) -> tuple[int, dict[str, str], Any]:
    """GET over plain HTTP: status, headers, JSON body (or text)."""
    return call(srv, "GET", path, token=token)


def fresh_page(driver, srv: Server) -> None:
    """The page with empty storage (no token, no session, default display settings)."""
    driver.get(srv.url + "/")
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    driver.get(srv.url + "/")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def wait_for(driver, condition, timeout: float = 30, message: str = ""):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except Exception as e:
        console = "\n".join(str(entry) for entry in driver.get_log("browser"))
        raise AssertionError(f"{message or 'timed out'}: {e!r}\nbrowser console:\n{console}") from None


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def connect(driver, token: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = by_id(driver, "token")
    box.clear()
    box.send_keys(token, Keys.ENTER)  # Enter submits the token form


def connected(driver) -> None:
    wait_for(driver, lambda d: by_id(d, "auth-status").text == "Connected.", message="the page did not connect")


def assistant_messages(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#log .msg.assistant")


def wait_answer(driver, n: int) -> None:
    """Until the n-th assistant message is complete (data-state done or error)."""
    wait_for(
        driver,
        lambda d: len(msgs := assistant_messages(d)) >= n and msgs[n - 1].get_attribute("data-state") != "streaming",
        timeout=ANSWER_WAIT,
        message=f"answer {n} did not finish",
    )
    state = assistant_messages(driver)[n - 1].get_attribute("data-state")
    assert state == "done", (state, assistant_messages(driver)[n - 1].text)


def stored(driver) -> str:
    """Everything in the page's sessionStorage and localStorage, as one string."""
    return driver.execute_script("return JSON.stringify([Object.values(sessionStorage), Object.values(localStorage)])")


def text_of(driver, element) -> str:
    return driver.execute_script("return arguments[0].textContent", element)


def style(driver, element, prop: str) -> str:
    return driver.execute_script("return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])", element, prop)


# Every assistant message's text length each time the log changes (a MutationObserver: it runs after each task,
# so text appended in one go is seen once, text streamed in pieces is seen growing).
WATCH_GROWTH = """
window.__growth = [];
const log = document.getElementById("log");
new MutationObserver(() => {
  const msgs = log.querySelectorAll(".msg.assistant");
  const last = msgs[msgs.length - 1];
  if (last) window.__growth.push([msgs.length, last.querySelector(".text").textContent.length, last.dataset.state,
                                  last.querySelectorAll("a.citation").length]);
}).observe(log, {subtree: true, childList: true, characterData: true, attributes: true});
"""


# ---- HTTP: the routes the page adds ---------------------------------------------------------------------------------------
def test_the_page_is_public_and_its_api_routes_need_the_token(server: Server, chunks: dict[str, dict]):
    status, headers, html = get(server, "/", token=None)
    assert status == 200 and headers["content-type"].startswith("text/html") and "<title>TutorForge" in html
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, body = get(server, f"/static/{name}", token=None)
        assert status == 200 and headers["content-type"].startswith(kind) and len(body) > 1000, name
    for path in ("/static/page.py", "/static/index.html", "/static/..%2Fpage.py", "/static/../page.py", "/static/"):
        status, _, body = get(server, path, token=None)
        assert status == 404 and "def add_web_routes" not in str(body), (path, status)

    for path in ("/v1/subjects", f"/v1/sources/{next(iter(chunks))}"):
        for token in (None, "wrong-token", TOKEN + "x"):
            status, headers, body = get(server, path, token=token)
            assert status == 401 and body["error"]["type"] == "authentication_error", (path, token, body)
    status, _, body = get(server, "/v1/subjects")
    assert status == 200 and body["subjects"] == sorted({c["subject"] for c in chunks.values()}) and body["subjects"]


def test_sources_returns_the_chunk_a_citation_names_and_refuses_hostile_ids(server: Server, chunks: dict[str, dict]):
    for chunk in list(chunks.values())[::40]:
        status, _, body = get(server, f"/v1/sources/{chunk['chunk_id']}")
        assert status == 200, body
        assert body == {
            k: chunk[k] for k in ("chunk_id", "file", "page", "page_label", "heading_path", "subject", "text")
        }
    status, _, body = get(server, "/v1/sources/" + "0" * 16)
    assert status == 404 and body["error"]["type"] == "not_found_error", body
    hostile = [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "..",
        "etc%00passwd",
        "x%27%20OR%20%271%27%3D%271",
        "%2Fetc%2Fpasswd",
        "a" * 65,
    ]
    for chunk_id in hostile:
        status, _, body = get(server, f"/v1/sources/{chunk_id}")
        assert status in (404, 422) and "root:" not in json.dumps(body), (chunk_id, status, body)
    assert get(server, "/v1/sources/etc%00passwd")[0] == 422  # reaches the route: refused as not an id
    status, _, text = get(server, "/metrics")
    assert re.search(r'tutorforge_requests_total\{path="/static/\{name\}",status="200"\} [1-9]', text), text[:3000]
    assert re.search(r'tutorforge_requests_total\{path="/v1/sources/\{chunk_id\}",status="404"\} [1-9]', text)
    assert "app.js" not in text and "passwd" not in text  # route templates as labels, never the raw URL


# ---- the page in Chromium -------------------------------------------------------------------------------------------------
def test_a_wrong_token_shows_the_401_message_and_is_not_kept(server: Server, browser):
    fresh_page(browser, server)
    error = by_id(browser, "auth-error")
    assert not error.is_displayed()
    connect(browser, "not-the-token")
    wait_for(browser, lambda d: by_id(d, "auth-error").is_displayed(), message="no 401 message")
    assert "401" in error.text and "not accepted" in error.text
    assert "not-the-token" not in stored(browser)  # a refused token is forgotten
    assert by_id(browser, "token").get_attribute("value") == ""  # the field is emptied, the token not kept
    assert browser.switch_to.active_element == by_id(browser, "token")  # focus back on the token field
    # the right token connects and clears the message; a token that stops working mid-conversation shows it again
    connect(browser, TOKEN)
    connected(browser)
    assert not error.is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('tutorforge.token')") == TOKEN
    assert TOKEN not in browser.execute_script("return JSON.stringify(Object.values(localStorage))")
    assert TOKEN not in browser.current_url and TOKEN not in browser.page_source
    browser.execute_script("sessionStorage.setItem('tutorforge.token', 'revoked-token')")
    message = by_id(browser, "message")
    message.send_keys("What is a cell?")
    by_id(browser, "send").click()
    wait_for(browser, lambda d: by_id(d, "auth-error").is_displayed(), message="no 401 message after a chat")
    wait_for(browser, lambda d: assistant_messages(d)[-1].get_attribute("data-state") == "error")
    assert "401" in assistant_messages(browser)[-1].text


def test_a_conversation_streams_cites_its_pages_and_continues(server: Server, browser, chunks: dict[str, dict]):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    item = next(
        it
        for it in load_benchmark(ROOT / "data" / "benchmarks" / "tutor-v1").items("grounded")
        if "vacuole" in it["question"]
    )
    assert (item["doc"], item["page"]) == ("biology.pdf", 3)
    fresh_page(browser, server)
    connect(browser, TOKEN)
    connected(browser)
    subjects = Select(by_id(browser, "subject"))
    assert [o.get_attribute("value") for o in subjects.options] == [
        "",
        "biology",
        "chemistry",
        "mathematics",
        "physics",
    ]
    subjects.select_by_value("biology")
    Select(by_id(browser, "mode")).select_by_value("socratic")

    browser.execute_script(WATCH_GROWTH)
    by_id(browser, "message").send_keys(item["question"], Keys.ENTER)  # Enter sends
    wait_answer(browser, 1)
    growth = browser.execute_script("return window.__growth")
    streaming = sorted({n for m, n, state, _ in growth if m == 1 and state == "streaming" and n > 0})
    assert len(streaming) >= 3, growth  # seen at 3+ lengths while streaming: it grew at least twice before the end
    first = assistant_messages(browser)[0]
    answer = text_of(browser, first.find_element(By.CSS_SELECTOR, ".text"))
    assert len(answer.split()) >= 3 and max(streaming) <= len(answer)

    # citations under the answer, each opening the text of its chunk in the side dialog
    links = first.find_elements(By.CSS_SELECTOR, "a.citation")
    labels = [link.text for link in links]
    assert labels and all(re.fullmatch(r"biology\.pdf p\. \d+", t) for t in labels), labels  # subject honoured
    assert "biology.pdf p. 3" in labels, labels  # the page holding the benchmark's answer
    link = links[labels.index("biology.pdf p. 3")]
    chunk = chunks[link.get_attribute("data-chunk-id")]
    assert (chunk["file"], chunk["page"]) == ("biology.pdf", 3)
    link.click()
    dialog = by_id(browser, "source-dialog")
    wait_for(browser, lambda d: dialog.get_attribute("data-state") == "loaded", message="source not shown")
    assert browser.execute_script("return arguments[0].open", dialog)
    assert text_of(browser, by_id(browser, "source-text")) == chunk["text"]
    assert "vacuole" in chunk["text"].lower()  # a passage about what was asked, from the answer's page
    assert by_id(browser, "source-title").text == chunk["heading_path"][-1]
    assert "biology.pdf p. 3" in by_id(browser, "source-meta").text
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()  # keyboard-closable
    wait_for(browser, lambda d: not d.execute_script("return arguments[0].open", dialog), message="dialog stays open")
    assert browser.switch_to.active_element == link  # focus returns to the citation

    # keyboard only: Tab from the top of the page reaches the question box, which shows its focus; Enter sends
    browser.find_element(By.TAG_NAME, "h1").click()  # the sequential focus starting point: the page's top
    stops = []
    for _ in range(25):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        stops.append(browser.switch_to.active_element.get_attribute("id") or "")
        if stops[-1] == "message":
            break
    cited = len(browser.find_elements(By.CSS_SELECTOR, "#log a.citation"))  # tab stops without an id
    assert stops == ["token", "connect", "log", *[""] * cited, "message"], stops  # the document's order
    focused = browser.switch_to.active_element
    assert style(browser, focused, "outline-style") != "none" and style(browser, focused, "outline-width") != "0px"
    follow_up = "Why does the cell need it?"
    ActionChains(browser).send_keys(follow_up, Keys.ENTER).perform()
    wait_answer(browser, 2)
    growth = browser.execute_script("return window.__growth")
    assert len({n for m, n, state, _ in growth if m == 2 and state == "streaming" and n > 0}) >= 3, growth

    # the second message continued the same stored conversation
    sid = browser.execute_script("return sessionStorage.getItem('tutorforge.session')")
    assert sid and by_id(browser, "log").get_attribute("data-session-id") == sid
    status, _, history = get(server, f"/chat/{urllib.parse.quote(sid)}")
    assert status == 200 and history["mode"] == "socratic" and history["subject"] == "biology", history
    messages = history["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert messages[0]["content"] == item["question"] and messages[2]["content"] == follow_up
    assert messages[1]["content"] == answer  # the page shows exactly what was streamed (and stored)
    assert {c["chunk_id"] for c in messages[1]["citations"]} == {x.get_attribute("data-chunk-id") for x in links}

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    png = SCREENSHOT.read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    viewport = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000 and [width, height] == viewport, (len(png), width)

    # a reload (same tab) restores the conversation from the server, citations included
    browser.refresh()
    connected(browser)
    wait_for(browser, lambda d: len(assistant_messages(d)) == 2, message="conversation not restored")
    restored = assistant_messages(browser)[0]
    assert text_of(browser, restored.find_element(By.CSS_SELECTOR, ".text")) == answer
    assert [a.text for a in restored.find_elements(By.CSS_SELECTOR, "a.citation")] == labels
    assert Select(by_id(browser, "subject")).first_selected_option.get_attribute("value") == "biology"
    assert Select(by_id(browser, "mode")).first_selected_option.get_attribute("value") == "socratic"


def test_high_contrast_and_text_size_change_the_page_and_persist(server: Server, browser):
    from selenium.webdriver.common.keys import Keys

    fresh_page(browser, server)
    body, contrast = browser.execute_script("return document.body"), by_id(browser, "contrast")
    background, size = style(browser, body, "background-color"), style(browser, body, "font-size")
    assert contrast.get_attribute("aria-pressed") == "false"
    contrast.send_keys(Keys.SPACE)  # a real button: the keyboard presses it
    wait_for(browser, lambda d: contrast.get_attribute("aria-pressed") == "true")
    assert style(browser, body, "background-color") == "rgb(0, 0, 0)" != background
    assert "high-contrast" in browser.execute_script("return document.documentElement.className")
    by_id(browser, "font-up").click()
    bigger = style(browser, body, "font-size")
    assert float(bigger.rstrip("px")) > float(size.rstrip("px")), (size, bigger)
    assert float(style(browser, by_id(browser, "message"), "font-size").rstrip("px")) > float(size.rstrip("px"))
    browser.refresh()  # both persist (localStorage), the token does not go there
    wait_for(browser, lambda d: by_id(d, "contrast").get_attribute("aria-pressed") == "true")
    body = browser.execute_script("return document.body")
    assert style(browser, body, "font-size") == bigger and style(browser, body, "background-color") == "rgb(0, 0, 0)"
    by_id(browser, "contrast").send_keys(Keys.ENTER)
    wait_for(browser, lambda d: by_id(d, "contrast").get_attribute("aria-pressed") == "false")
    assert style(browser, body, "background-color") == background
    by_id(browser, "font-down").click()
    by_id(browser, "font-down").click()
    assert float(style(browser, body, "font-size").rstrip("px")) < float(size.rstrip("px"))
    for control in ("token", "message", "subject", "mode"):  # every control has a label
        assert browser.execute_script("return arguments[0].labels.length", by_id(browser, control)), control


# A /chat stream as the server sends it once it runs the tutor's tools, split at awkward places (inside a JSON object,
# between "\n" and "\n"), with strings that would be markup if the page wrote them as HTML.
def fake_stream(chunk_id: str, asset: str = "models/human_heart.glb") -> list[str]:
    def event(**extra) -> str:
        body = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "bundle"} | extra
        return f"data: {json.dumps(body)}\n\n"

    def delta(content: str, **extra) -> str:
        return event(choices=[{"index": 0, "delta": {"content": content}, "finish_reason": None}], **extra)

    tools = [
        {
            "name": "show_3d_model",
            "arguments": {"model_id": "human_heart"},
            "result": {
                "model_id": "human_heart",
                "title": "<img src=x onerror=window.__xss=1>The human heart",
                "subject": "biology",
                "asset": asset,
                "animations": ["beat", "<b>blood flow</b>"],
            },
        },
        {
            "name": "make_quiz",
            "arguments": {"topic": "cells"},
            "result": {
                "topic": "cells",
                "questions": [
                    {"question": "What is a cell?", "answer": "The smallest unit of life."},
                    {"question": "<script>window.__xss=2</script>Where is DNA?", "answer": "In the nucleus."},
                ],
            },
        },
        {
            "name": "search_textbook",
            "arguments": {"query": "osmosis"},
            "result": {
                "results": [
                    {"section_id": "s1", "heading": "1.3 Osmosis", "pages": [4, 5], "snippet": "Water"},
                    {
                        "section_id": "s2",
                        "heading": "<i>Cells</i>",
                        "pages": [2, 2],
                        "snippet": "A cell is",
                        "file": "biology.pdf",
                        "page_label": "1",
                        "chunk_id": chunk_id,
                    },
                ]
            },
        },
    ]
    cite = {"file": "biology.pdf", "page": 3, "page_label": "2", "heading": "h", "chunk_id": chunk_id, "score": 0.5}
    text = "".join(
        [
            delta("", role="assistant"),
            delta("Here is "),
            delta("<img src=x onerror=window.__xss=3>the heart."),
            delta("", tool_results=tools),
            delta("\n\nSources: biology.pdf p. 3", citations=[cite]),
            event(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
            "data: [DONE]\n\n",
        ]
    )
    cuts = [7, 60, 61, len(text) // 2, text.index("\n\n") + 1, len(text) - 3]
    return [text[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(text)], strict=True)]


FAKE_CHAT = """
const pieces = arguments[0];
const realFetch = window.fetch.bind(window);
window.fetch = (url, options) => {
  if (String(url) !== "/chat") return realFetch(url, options);
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async start(controller) {
      for (const piece of pieces) {
        controller.enqueue(encoder.encode(piece));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      controller.close();
    },
  });
  const headers = {"Content-Type": "text/event-stream", "X-Session-Id": "FakeSessionId0123456789"};
  return Promise.resolve(new Response(body, {status: 200, headers}));
};
"""


def test_tool_results_in_a_stream_show_as_a_model_a_quiz_and_search_results(
    server: Server, browser, chunks: dict[str, dict]
):
    from selenium.webdriver.common.by import By

    fresh_page(browser, server)
    connect(browser, TOKEN)
    connected(browser)
    chunk_id = next(iter(chunks))
    browser.execute_script(FAKE_CHAT, fake_stream(chunk_id))
    by_id(browser, "message").send_keys("Show me the heart")
    by_id(browser, "send").click()
    wait_answer(browser, 1)
    msg = assistant_messages(browser)[0]
    assert text_of(browser, msg.find_element(By.CSS_SELECTOR, ".text")) == (
        "Here is <img src=x onerror=window.__xss=3>the heart.\n\nSources: biology.pdf p. 3"
    )
    assert browser.execute_script(
        "return window.__xss === undefined && !document.querySelector('img, script:not([src])')"
    )
    assert browser.execute_script("return sessionStorage.getItem('tutorforge.session')") == "FakeSessionId0123456789"

    panel = by_id(browser, "model-view")
    assert panel.find_element(By.CSS_SELECTOR, "h3").text == "<img src=x onerror=window.__xss=1>The human heart"
    buttons = panel.find_elements(By.CSS_SELECTOR, "button.animation")
    assert [b.text for b in buttons] == ["beat", "<b>blood flow</b>"]
    buttons[1].click()
    assert buttons[1].get_attribute("aria-pressed") == "true" and buttons[0].get_attribute("aria-pressed") == "false"
    asset = panel.find_element(By.CSS_SELECTOR, "a.model-asset")
    assert (
        asset.text == "models/human_heart.glb" and asset.get_attribute("href") == server.url + "/models/human_heart.glb"
    )

    questions = msg.find_elements(By.CSS_SELECTOR, ".quiz-questions > li")
    assert [q.find_element(By.CSS_SELECTOR, ".quiz-question").text for q in questions] == [
        "What is a cell?",
        "<script>window.__xss=2</script>Where is DNA?",
    ]
    answer, toggle = (questions[0].find_element(By.CSS_SELECTOR, s) for s in (".quiz-answer", "button.show-answer"))
    assert not answer.is_displayed() and toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert answer.is_displayed() and answer.text == "The smallest unit of life."
    assert toggle.get_attribute("aria-expanded") == "true"
    assert not questions[1].find_element(By.CSS_SELECTOR, ".quiz-answer").is_displayed()
    found = msg.find_elements(By.CSS_SELECTOR, ".search-results li")
    assert [f.get_attribute("data-section-id") for f in found] == ["s1", "s2"]
    assert found[0].text == "1.3 Osmosis (pp. 4–5) — Water"
    assert found[1].text == "<i>Cells</i> (biology.pdf p. 2) — A cell is"
    found[1].find_element(By.CSS_SELECTOR, "a.search-source").click()  # a search hit opens its passage too
    wait_for(browser, lambda d: by_id(d, "source-dialog").get_attribute("data-state") == "loaded")
    assert text_of(browser, by_id(browser, "source-text")) == chunks[chunk_id]["text"]
    by_id(browser, "source-close").click()

    link = msg.find_element(By.CSS_SELECTOR, "a.citation")  # the citation of a streamed chunk opens the real source
    assert link.text == "biology.pdf p. 3"
    link.click()
    wait_for(browser, lambda d: by_id(d, "source-dialog").get_attribute("data-state") == "loaded")
    assert text_of(browser, by_id(browser, "source-text")) == chunks[chunk_id]["text"]
    by_id(browser, "source-close").click()

    # an asset that is not a web address is shown, not linked (no javascript: URLs from a tool)
    browser.execute_script(FAKE_CHAT, fake_stream(chunk_id, asset="javascript:window.__xss=4"))
    by_id(browser, "message").send_keys("Again")
    by_id(browser, "send").click()
    wait_answer(browser, 2)
    assert not panel.find_elements(By.CSS_SELECTOR, "a.model-asset")
    assert panel.find_element(By.CSS_SELECTOR, "code.model-asset").text == "javascript:window.__xss=4"


def save_screenshot(driver, path: Path) -> None:
    """The viewport as a PNG at `path` (replacing an older one), checked to be a real picture of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    assert driver.save_screenshot(str(path))
    png = path.read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    viewport = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000 and [width, height] == viewport, (len(png), width)


def test_a_diagram_picture_shows_its_3d_model_and_animations_and_is_explained(server: Server, browser, tmp_path: Path):
    from selenium.webdriver.common.by import By

    heart = tmp_path / "heart.png"
    heart.write_bytes(diagram_png("human_heart", seed=104, style=1))  # a drawing the encoder never saw
    fresh_page(browser, server)
    connect(browser, TOKEN)
    connected(browser)
    explain, view = by_id(browser, "diagram-explain"), by_id(browser, "diagram-view")
    assert not explain.is_enabled()  # nothing to explain yet
    by_id(browser, "diagram-question").send_keys("show me how blood flows")
    by_id(browser, "diagram-file").send_keys(str(heart))  # choosing the file uploads it (POST /upload_image)
    wait_for(browser, lambda d: view.get_attribute("data-state") in ("read", "error"), 60, "the picture was not read")
    assert view.get_attribute("data-state") == "read", by_id(browser, "diagram-status").text

    def fact(name: str) -> str:
        return view.find_element(By.CSS_SELECTOR, f"dd.diagram-{name}").text

    assert (fact("subject"), fact("title")) == ("biology", "the human heart")
    assert (fact("model"), fact("asset")) == ("human_heart", "models/human_heart.glb")
    assert 0 < float(fact("confidence")) <= 1
    moves = view.find_elements(By.CSS_SELECTOR, ".diagram-animations li")
    assert [m.get_attribute("data-animation") for m in moves] == ["heartbeat", "blood_flow"]
    assert [m.get_attribute("aria-current") for m in moves] == [None, "true"]  # the one the question asks for
    assert moves[1].text == "blood_flow (chosen for your question)" and moves[0].text == "heartbeat"
    panel = by_id(browser, "model-view")  # the 3D model panel opens the model, that animation playing
    assert panel.get_attribute("data-model-id") == "human_heart"
    buttons = panel.find_elements(By.CSS_SELECTOR, "button.animation")
    assert [b.text for b in buttons] == ["heartbeat", "blood_flow"]
    assert [b.get_attribute("aria-pressed") for b in buttons] == ["false", "true"]
    assert explain.is_enabled()

    explain.click()  # the picture as an image part of /v1/chat/completions, the answer streamed into the conversation
    wait_answer(browser, 1)
    answer = text_of(browser, assistant_messages(browser)[0].find_element(By.CSS_SELECTOR, ".text"))
    lead, _, rest = answer.partition("\n\n")
    assert lead.startswith("This looks like a biology diagram of the human heart (confidence "), answer
    assert lead.endswith(
        "3D model: human_heart (models/human_heart.glb), opened with the blood_flow animation; also: heartbeat."
    )
    assert len(rest.partition("\n\nSources: ")[0].split()) >= 3, answer  # the tutor's explanation after the lead
    asked = browser.find_elements(By.CSS_SELECTOR, "#log .msg.user")[-1]
    assert "show me how blood flows" in asked.text and "Diagram: heart.png" in asked.text
    assert browser.execute_script("return !document.querySelector('img')")  # nothing the server sent became markup
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", by_id(browser, "diagram-panel"))
    save_screenshot(browser, DIAGRAM_SCREENSHOT)

    notes = tmp_path / "notes.png"
    notes.write_bytes(b"my notes, not a picture")
    by_id(browser, "diagram-file").send_keys(str(notes))
    wait_for(
        browser, lambda d: view.get_attribute("data-state") == "error", 60, "no error for a file that is no picture"
    )
    assert "not a PNG, JPEG, GIF or WebP picture" in by_id(browser, "diagram-status").text
    assert not explain.is_enabled() and not view.find_elements(By.CSS_SELECTOR, "dd")
