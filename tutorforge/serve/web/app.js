// The tutor's web page (served by `tutorforge serve` at GET /). Plain JavaScript, no build step.
//
// Every API call carries `Authorization: Bearer <token>`; the token is asked for once and kept in this tab's
// sessionStorage (never in the URL or localStorage). Model output and everything else the server sends is written as
// text (textContent / text nodes), never as HTML. Display preferences (text size, high contrast) live in localStorage.
(() => {
  "use strict";

  const TOKEN_KEY = "tutorforge.token"; // sessionStorage
  const SESSION_KEY = "tutorforge.session"; // sessionStorage
  const FONT_KEY = "tutorforge.fontScale"; // localStorage
  const CONTRAST_KEY = "tutorforge.highContrast"; // localStorage
  const FONT_SCALES = [0.875, 1, 1.125, 1.25, 1.5, 1.75, 2];
  const MAX_RECORDING_MS = 30000;
  const AUTH_MESSAGE = "The API token was not accepted (401 Unauthorized). Enter the right token and press Connect.";

  const $ = (id) => document.getElementById(id);

  /** An element with attributes (`text` sets its text, `class` its class) and children (strings become text). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  class AuthError extends Error {}

  const state = {
    sessionId: sessionStorage.getItem(SESSION_KEY) || "",
    busy: false,
    sourceRequest: 0,
    diagramRequest: 0,
    recorder: null,
  };

  // ---- the token and the API --------------------------------------------------------------------------------------
  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function showAuthError(message = AUTH_MESSAGE) {
    const box = $("auth-error");
    box.textContent = message;
    box.hidden = false;
    $("auth-status").textContent = "";
    document.documentElement.classList.add("needs-token");
  }

  function clearAuthError() {
    $("auth-error").hidden = true;
    $("auth-error").textContent = "";
    document.documentElement.classList.remove("needs-token");
  }

  /** fetch with the bearer token; a 401 shows the token message, forgets the token and throws AuthError. */
  async function api(path, options = {}) {
    if (!token()) {
      showAuthError("Enter the API token and press Connect first.");
      throw new AuthError("no token");
    }
    const headers = new Headers(options.headers || {});
    headers.set("Authorization", `Bearer ${token()}`);
    const response = await fetch(path, { ...options, headers, cache: "no-store", credentials: "omit" });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showAuthError();
      $("token").focus();
      throw new AuthError("401");
    }
    return response;
  }

  /** The message of an error response (the server's OpenAI-shaped {"error": {"message"}}), else its status. */
  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return `${response.status}: ${body.error.message}`;
    } catch (_) {
      // not JSON: the status says enough
    }
    return `${response.status} ${response.statusText || "error"}`;
  }

  async function connect(event) {
    event.preventDefault();
    const input = $("token");
    const value = input.value.trim();
    input.value = ""; // the page keeps the token in sessionStorage only
    if (!value) {
      showAuthError("Enter the API token first.");
      input.focus();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, value);
    if (await loadSubjects()) {
      $("auth-status").textContent = "Connected.";
      await restoreSession();
      $("message").focus();
    }
  }

  /** Fill the subject selector from GET /v1/subjects (which also checks the token); true when it worked. */
  async function loadSubjects() {
    let response;
    try {
      response = await api("/v1/subjects");
    } catch (err) {
      if (!(err instanceof AuthError)) showAuthError(`Could not reach the tutor: ${err.message}`);
      return false;
    }
    if (!response.ok) {
      showAuthError(`Could not load the subjects: ${await errorMessage(response)}`);
      return false;
    }
    clearAuthError();
    const { subjects } = await response.json();
    const select = $("subject");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: "All subjects" }));
    for (const subject of subjects || []) {
      const name = String(subject);
      select.append(el("option", { value: name, text: name.charAt(0).toUpperCase() + name.slice(1) }));
    }
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    return true;
  }

  // ---- the chat log -----------------------------------------------------------------------------------------------
  function addMessage(role, text = "") {
    const body = document.createTextNode(text);
    const root = el(
      "article",
      { class: `msg ${role}`, "data-role": role },
      el("h3", { class: "who", text: role === "user" ? "You" : "Tutor" }),
      el("p", { class: "text" }, body),
    );
    const extras = el("div", { class: "extras" });
    root.append(extras);
    const log = $("log");
    const intro = log.querySelector(".intro");
    if (intro) intro.remove();
    log.append(root);
    root.scrollIntoView({ block: "end" });
    return { root, body, extras };
  }

  function setError(message, text) {
    message.root.dataset.state = "error";
    message.extras.append(el("p", { class: "error", role: "alert", text }));
  }

  /** Read server-sent events from a fetch body; calls onData with each JSON payload; true when [DONE] came. */
  async function readEvents(stream, onData) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    const separator = /\r?\n\r?\n/;
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += decoder.decode(value, { stream: true });
      let match;
      while ((match = separator.exec(buffer)) !== null) {
        const event = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        const data = event
          .split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue;
        if (data === "[DONE]") {
          reader.cancel().catch(() => {});
          return true;
        }
        let chunk;
        try {
          chunk = JSON.parse(data);
        } catch (_) {
          continue; // not a chunk: skip it
        }
        onData(chunk);
      }
    }
  }

  function rememberSession(sessionId) {
    state.sessionId = sessionId;
    if (sessionId) sessionStorage.setItem(SESSION_KEY, sessionId);
    else sessionStorage.removeItem(SESSION_KEY);
    $("log").dataset.sessionId = sessionId;
  }

  /** True (and says so) while an answer is still streaming in. */
  function tutorBusy() {
    if (state.busy) $("chat-status").textContent = "The tutor is still answering; wait for the answer to finish.";
    return state.busy;
  }

  async function send(text) {
    if (tutorBusy()) return;
    if (!text.trim()) {
      $("chat-status").textContent = "Type a question first.";
      return;
    }
    const body = { message: text, mode: $("mode").value, stream: true };
    if ($("subject").value) body.subject = $("subject").value;
    if (state.sessionId) body.session_id = state.sessionId;
    await ask("/chat", body, text);
  }

  /** POST `body` to `path` (a streamed chat: /chat, or /v1/chat/completions for a diagram), showing `text` (and
   * `attachment`, a note under it) as the student's message and the answer as it arrives. */
  async function ask(path, body, text, attachment = "") {
    const status = $("chat-status");
    const stored = path === "/chat"; // a conversation the server keeps (X-Session-Id)
    state.busy = true;
    $("send").disabled = true;
    $("log").setAttribute("aria-busy", "true");
    status.textContent = "The tutor is answering…";
    const question = addMessage("user", text);
    if (attachment) question.extras.append(el("p", { class: "muted attachment", text: attachment }));
    const answer = addMessage("assistant");
    answer.root.dataset.state = "streaming";
    try {
      const response = await api(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        if (stored && response.status === 404 && state.sessionId) rememberSession(""); // the server forgot it
        setError(answer, `The tutor could not answer (${await errorMessage(response)}).`);
        status.textContent = "";
        return;
      }
      const sessionId = stored ? response.headers.get("X-Session-Id") : null;
      if (sessionId) rememberSession(sessionId);
      const complete = await readEvents(response.body, (chunk) => onChunk(answer, chunk));
      if (complete) {
        answer.root.dataset.state = "done";
        status.textContent = "Answered.";
      } else {
        setError(answer, "The answer was cut off before it was complete.");
        status.textContent = "";
      }
    } catch (err) {
      if (err instanceof AuthError) setError(answer, `Not sent: ${AUTH_MESSAGE}`);
      else setError(answer, `The tutor could not be reached: ${err.message}`);
      status.textContent = "";
    } finally {
      state.busy = false;
      $("send").disabled = false;
      $("log").setAttribute("aria-busy", "false");
      answer.root.scrollIntoView({ block: "end" });
    }
  }

  function onChunk(answer, chunk) {
    if (chunk.error) {
      setError(answer, `The tutor stopped: ${chunk.error.message || "error"}`);
      return;
    }
    for (const choice of chunk.choices || []) {
      const piece = choice && choice.delta && choice.delta.content;
      if (typeof piece === "string" && piece) answer.body.appendData(piece);
    }
    if (Array.isArray(chunk.tool_results)) renderToolResults(chunk.tool_results, answer.extras);
    if (Array.isArray(chunk.citations)) renderCitations(chunk.citations, answer.extras);
    if (chunk.diagram && typeof chunk.diagram === "object") showDiagram(chunk.diagram);
  }

  // ---- citations and their source text -------------------------------------------------------------------------
  function citationLabel(cite) {
    return `${cite.file} p. ${cite.page}`;
  }

  function renderCitations(cites, target) {
    const old = target.querySelector(".sources");
    if (old) old.remove();
    const usable = cites.filter((c) => c && typeof c.chunk_id === "string" && c.chunk_id);
    if (!usable.length) return;
    const list = el("ul", { class: "citations" });
    for (const cite of usable) {
      const printed =
        cite.page_label && String(cite.page_label) !== String(cite.page) ? ` (printed ${cite.page_label})` : "";
      const link = el("a", {
        href: "#source",
        class: "citation",
        "data-chunk-id": cite.chunk_id,
        title: `${cite.heading || ""}${printed}`.trim() || undefined,
        text: citationLabel(cite),
      });
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openSource(cite.chunk_id, link);
      });
      list.append(el("li", {}, link));
    }
    target.prepend(el("nav", { class: "sources", "aria-label": "Sources" }, el("p", { text: "Read a source:" }), list));
  }

  async function openSource(chunkId, opener) {
    const dialog = $("source-dialog");
    const ticket = ++state.sourceRequest;
    state.sourceOpener = opener;
    $("source-title").textContent = "Source";
    $("source-meta").textContent = "Loading…";
    $("source-text").textContent = "";
    dialog.dataset.chunkId = chunkId;
    dialog.dataset.state = "loading";
    if (!dialog.open) dialog.showModal();
    $("source-close").focus();
    try {
      const response = await api(`/v1/sources/${encodeURIComponent(chunkId)}`);
      if (ticket !== state.sourceRequest) return;
      if (!response.ok) {
        $("source-meta").textContent = `The source could not be loaded (${await errorMessage(response)}).`;
        dialog.dataset.state = "error";
        return;
      }
      const chunk = await response.json();
      if (ticket !== state.sourceRequest) return;
      const path = Array.isArray(chunk.heading_path) ? chunk.heading_path.map(String) : [];
      $("source-title").textContent = path.length ? path[path.length - 1] : String(chunk.file);
      const printed =
        chunk.page_label && String(chunk.page_label) !== String(chunk.page) ? ` (printed ${chunk.page_label})` : "";
      const where = [`${chunk.file} p. ${chunk.page}${printed}`, chunk.subject, path.join(" › ")];
      $("source-meta").textContent = where.filter(Boolean).join(" · ");
      $("source-text").textContent = String(chunk.text || "");
      dialog.dataset.state = "loaded";
    } catch (err) {
      if (ticket !== state.sourceRequest) return;
      $("source-meta").textContent =
        err instanceof AuthError ? AUTH_MESSAGE : `The source could not be loaded: ${err.message}`;
      dialog.dataset.state = "error";
    }
  }

  function closeSource() {
    const dialog = $("source-dialog");
    if (dialog.open) dialog.close();
  }

  // ---- tool results -----------------------------------------------------------------------------------------------
  /** A link for a URL of this site or http(s) only (never javascript: or data:); null for anything else. */
  function safeHref(value) {
    try {
      const url = new URL(String(value), window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  /** The 3D model in its panel; `chosen` names an animation to start with (pressed), if any. */
  function showModel(result, chosen = "") {
    const view = $("model-view");
    const title = String(result.title || result.model_id || "3D model");
    const animations = Array.isArray(result.animations) ? result.animations.map(String) : [];
    const playing = el("p", { class: "muted model-playing", "aria-live": "polite" });
    const content = [
      el("h3", { class: "model-title", text: title }),
      el("p", {
        class: "model-meta",
        text: [`Model ${result.model_id || "?"}`, result.subject].filter(Boolean).join(" · "),
      }),
    ];
    if (animations.length) {
      const buttons = el("div", { class: "button-row model-animations", role: "group", "aria-label": "Animations" });
      for (const name of animations) {
        const button = el("button", { type: "button", class: "animation", "aria-pressed": "false", text: name });
        const play = () => {
          buttons.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
          playing.textContent = `Animation: ${name}`;
        };
        button.addEventListener("click", play);
        buttons.append(button);
        if (name === chosen) play();
      }
      content.push(el("p", { class: "label", text: "Animations" }), buttons, playing);
    }
    if (result.asset) {
      const href = safeHref(result.asset);
      const asset = href
        ? el("a", {
            href,
            class: "model-asset",
            target: "_blank",
            rel: "noopener noreferrer",
            text: String(result.asset),
          })
        : el("code", { class: "model-asset", text: String(result.asset) });
      content.push(el("p", {}, "Model file: ", asset));
    }
    view.replaceChildren(...content);
    view.dataset.modelId = String(result.model_id || "");
  }

  function quiz(result) {
    const questions = Array.isArray(result.questions) ? result.questions : [];
    const box = el("section", { class: "tool quiz" });
    box.append(el("h4", { text: `Quiz${result.topic ? `: ${result.topic}` : ""}` }));
    const list = el("ol", { class: "quiz-questions" });
    questions.forEach((q, i) => {
      const answerId = `quiz-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${i}`;
      const answer = el("p", { class: "quiz-answer", id: answerId, hidden: true, text: String(q.answer ?? "") });
      const toggle = el("button", {
        type: "button",
        class: "show-answer",
        "aria-expanded": "false",
        "aria-controls": answerId,
        text: "Show answer",
      });
      toggle.addEventListener("click", () => {
        const show = answer.hidden;
        answer.hidden = !show;
        toggle.setAttribute("aria-expanded", String(show));
        toggle.textContent = show ? "Hide answer" : "Show answer";
      });
      list.append(el("li", {}, el("p", { class: "quiz-question", text: String(q.question ?? "") }), toggle, answer));
    });
    box.append(list);
    return box;
  }

  function searchResults(result) {
    const results = Array.isArray(result.results) ? result.results : [];
    const box = el("section", { class: "tool search" }, el("h4", { text: "From the textbook" }));
    if (!results.length) box.append(el("p", { class: "muted", text: "Nothing found." }));
    const list = el("ul", { class: "search-results" });
    for (const r of results) {
      if (!r || typeof r !== "object") continue;
      const pages = Array.isArray(r.pages) ? r.pages.map(String) : [];
      const first = pages[0];
      const last = pages[pages.length - 1];
      const span = !pages.length ? "" : first === last ? `p. ${first}` : `pp. ${first}–${last}`;
      const heading = String(r.heading || r.section_id || "Section");
      let title = el("strong", { text: heading });
      if (typeof r.chunk_id === "string" && r.chunk_id) {
        const link = el("a", { href: "#source", class: "search-source", "data-chunk-id": r.chunk_id, text: heading });
        link.addEventListener("click", (event) => {
          event.preventDefault();
          openSource(r.chunk_id, link);
        });
        title = el("strong", {}, link);
      }
      const where = [r.file ? String(r.file) : "", span].filter(Boolean).join(" ");
      list.append(
        el(
          "li",
          { "data-section-id": r.section_id },
          title,
          where ? ` (${where})` : "",
          r.snippet ? el("span", { class: "snippet", text: ` — ${r.snippet}` }) : null,
        ),
      );
    }
    if (results.length) box.append(list);
    return box;
  }

  /** Show what the server's tools returned: a 3D model in its panel, a quiz, textbook search results. */
  function renderToolResults(results, target) {
    for (const item of results) {
      if (!item || typeof item !== "object") continue;
      const name = String(item.name || "tool");
      const result = item.result && typeof item.result === "object" ? item.result : {};
      if (result.error) {
        target.append(el("p", { class: "tool error", text: `${name} failed: ${result.error}` }));
      } else if (name === "show_3d_model") {
        showModel(result);
        const note = `Shown in the 3D model panel: ${result.title || result.model_id || "a model"}.`;
        target.append(el("p", { class: "tool model-note", text: note }));
      } else if (name === "make_quiz") {
        target.append(quiz(result));
      } else if (name === "search_textbook") {
        target.append(searchResults(result));
      } else {
        const box = el("section", { class: "tool other" }, el("h4", { text: name }));
        box.append(el("pre", { text: JSON.stringify(result, null, 2).slice(0, 4000) }));
        target.append(box);
      }
    }
  }

  // ---- diagrams: POST /upload_image reads a picture; Explain sends it as an image part to /v1/chat/completions -----
  // (an explanation is shown in the conversation but not stored with it: /chat takes text only)
  function chosenFile() {
    const files = $("diagram-file").files;
    return files && files.length ? files[0] : null;
  }

  /** What the server read from a picture: subject, title, confidence, 3D model, its file and animations (the one
   * chosen for the question marked); the model also goes to the 3D model panel with that animation playing. */
  function showDiagram(reading) {
    const view = $("diagram-view");
    const model = reading.model && typeof reading.model === "object" ? reading.model : {};
    const animations = Array.isArray(model.animations) ? model.animations.map(String) : [];
    const chosen = model.animation === undefined || model.animation === null ? "" : String(model.animation);
    const confidence = Number(reading.confidence);
    const facts = [
      ["Subject", "diagram-subject", reading.subject],
      ["Shows", "diagram-title", reading.title || reading.label],
      ["Confidence", "diagram-confidence", Number.isFinite(confidence) ? confidence.toFixed(2) : ""],
      ["3D model", "diagram-model", model.model_id],
      ["Model file", "diagram-asset", model.asset],
    ];
    const list = el("dl", { class: "diagram-facts" });
    for (const [term, cls, value] of facts) {
      const shown = value === undefined || value === null || value === "" ? "unknown" : String(value);
      list.append(el("dt", { text: term }), el("dd", { class: cls, text: shown }));
    }
    const moves = el("ul", { class: "diagram-animations", "aria-label": "Animations of the 3D model" });
    for (const name of animations) {
      const isChosen = name === chosen;
      const item = el("li", {
        "data-animation": name,
        class: isChosen ? "chosen" : null,
        "aria-current": isChosen ? "true" : null,
      });
      item.append(el("span", { class: "animation-name", text: name }));
      if (isChosen) item.append(el("span", { class: "chosen-mark", text: " (chosen for your question)" }));
      moves.append(item);
    }
    const content = [list];
    if (animations.length) content.push(el("p", { class: "label", text: "Animations" }), moves);
    view.replaceChildren(...content);
    view.dataset.label = String(reading.label || "");
    view.dataset.state = "read";
    if (model.model_id) {
      const title = String(reading.title || model.model_id);
      const result = { model_id: model.model_id, subject: reading.subject, asset: model.asset, animations };
      showModel({ ...result, title: title.charAt(0).toUpperCase() + title.slice(1) }, chosen);
    }
  }

  async function readDiagram() {
    const file = chosenFile();
    const status = $("diagram-status");
    const view = $("diagram-view");
    const ticket = ++state.diagramRequest;
    $("diagram-explain").disabled = true;
    view.replaceChildren();
    view.dataset.state = file ? "reading" : "";
    if (!file) {
      status.textContent = "";
      return;
    }
    status.textContent = `Reading ${file.name}…`;
    const form = new FormData();
    form.append("file", file, file.name || "diagram");
    const question = $("diagram-question").value.trim();
    if (question) form.append("question", question);
    try {
      const response = await api("/upload_image", { method: "POST", body: form });
      if (ticket !== state.diagramRequest) return; // another picture was chosen meanwhile
      if (!response.ok) {
        status.textContent =
          response.status === 413
            ? "The picture is too large for the server: try a smaller one."
            : `The picture could not be read (${await errorMessage(response)}).`;
        view.dataset.state = "error";
        return;
      }
      const { diagram } = await response.json();
      if (ticket !== state.diagramRequest) return;
      if (!diagram || typeof diagram !== "object") throw new Error("the server sent no reading");
      showDiagram(diagram);
      status.textContent = "Read. Press Explain to ask the tutor about it.";
      $("diagram-explain").disabled = false;
    } catch (err) {
      if (ticket !== state.diagramRequest) return;
      status.textContent = err instanceof AuthError ? AUTH_MESSAGE : `The picture could not be sent: ${err.message}`;
      view.dataset.state = "error";
    }
  }

  function asDataUrl(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.addEventListener("load", () => resolve(String(reader.result)));
      reader.addEventListener("error", () => reject(reader.error || new Error("unreadable file")));
      reader.readAsDataURL(file);
    });
  }

  async function explainDiagram(event) {
    event.preventDefault();
    const file = chosenFile();
    if (!file) {
      $("diagram-status").textContent = "Choose a picture first.";
      return;
    }
    if (tutorBusy()) return;
    let url;
    try {
      url = await asDataUrl(file);
    } catch (err) {
      $("diagram-status").textContent = `The picture could not be read here: ${err.message}`;
      return;
    }
    const question = $("diagram-question").value.trim();
    const parts = question ? [{ type: "text", text: question }] : [];
    parts.push({ type: "image_url", image_url: { url } });
    const body = { messages: [{ role: "user", content: parts }], mode: $("mode").value, stream: true };
    if ($("subject").value) body.subject = $("subject").value;
    await ask("/v1/chat/completions", body, question || "What does this diagram show?", `Diagram: ${file.name}`);
  }

  // ---- a stored conversation after a reload -----------------------------------------------------------------------
  async function restoreSession() {
    if (!state.sessionId || $("log").querySelector(".msg")) return;
    let response;
    try {
      response = await api(`/chat/${encodeURIComponent(state.sessionId)}`);
    } catch (_) {
      return;
    }
    if (!response.ok) {
      rememberSession("");
      return;
    }
    const history = await response.json();
    for (const [id, value] of [
      ["subject", history.subject],
      ["mode", history.mode],
    ]) {
      const select = $(id); // the conversation's own settings, where the page offers them
      if (value && [...select.options].some((o) => o.value === value)) select.value = value;
    }
    for (const m of history.messages || []) {
      const message = addMessage(m.role === "user" ? "user" : "assistant", String(m.content || ""));
      message.root.dataset.state = "done";
      if (Array.isArray(m.citations)) renderCitations(m.citations, message.extras);
    }
    rememberSession(state.sessionId);
  }

  function newConversation() {
    rememberSession("");
    $("log").replaceChildren(el("p", { class: "muted intro", text: "A new conversation. Ask away." }));
    $("chat-status").textContent = "New conversation started.";
    $("message").focus();
  }

  // ---- display preferences ----------------------------------------------------------------------------------------
  function fontIndex() {
    const saved = Number(localStorage.getItem(FONT_KEY));
    const i = FONT_SCALES.indexOf(saved);
    return i >= 0 ? i : FONT_SCALES.indexOf(1);
  }

  function applyFont(i, announce = false) {
    const scale = FONT_SCALES[i];
    document.documentElement.style.fontSize = `${scale * 100}%`;
    localStorage.setItem(FONT_KEY, String(scale));
    $("font-down").disabled = i === 0;
    $("font-up").disabled = i === FONT_SCALES.length - 1;
    if (announce) $("font-status").textContent = `${Math.round(scale * 100)}%`;
  }

  function stepFont(delta) {
    applyFont(Math.min(FONT_SCALES.length - 1, Math.max(0, fontIndex() + delta)), true);
  }

  function applyContrast(on) {
    document.documentElement.classList.toggle("high-contrast", on);
    $("contrast").setAttribute("aria-pressed", String(on));
    localStorage.setItem(CONTRAST_KEY, on ? "1" : "0");
  }

  // ---- voice input (POST /v1/audio/transcriptions) ----------------------------------------------------------------
  function canRecord() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
  }

  async function toggleRecording() {
    const mic = $("mic");
    const status = $("chat-status");
    if (state.recorder) {
      state.recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      status.textContent = `The microphone is not available: ${err.message}`;
      return;
    }
    const recorder = new MediaRecorder(stream);
    const parts = [];
    recorder.addEventListener("dataavailable", (event) => event.data.size && parts.push(event.data));
    recorder.addEventListener("stop", async () => {
      clearTimeout(state.recordingTimer);
      stream.getTracks().forEach((track) => track.stop());
      state.recorder = null;
      mic.setAttribute("aria-pressed", "false");
      mic.textContent = "Speak";
      const type = recorder.mimeType || "audio/webm";
      await transcribe(new Blob(parts, { type }), type);
    });
    state.recorder = recorder;
    recorder.start();
    state.recordingTimer = setTimeout(() => recorder.state === "recording" && recorder.stop(), MAX_RECORDING_MS);
    mic.setAttribute("aria-pressed", "true");
    mic.textContent = "Stop";
    status.textContent = "Recording… press Stop when you have finished.";
  }

  async function transcribe(blob, type) {
    const status = $("chat-status");
    status.textContent = "Transcribing…";
    const extension = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
    const form = new FormData();
    form.append("file", blob, `question.${extension}`);
    form.append("model", "whisper-1");
    try {
      const response = await api("/v1/audio/transcriptions", { method: "POST", body: form });
      if (!response.ok) {
        status.textContent =
          response.status === 413
            ? "The recording is too long for the server: try a shorter question."
            : `Could not transcribe the recording (${await errorMessage(response)}).`;
        return;
      }
      const { text } = await response.json();
      $("message").value = String(text || "").trim();
      $("message").focus();
      status.textContent = "Transcribed: check the question, then press Enter to send it.";
    } catch (err) {
      if (!(err instanceof AuthError)) status.textContent = `Could not transcribe the recording: ${err.message}`;
    }
  }

  // ---- wiring -----------------------------------------------------------------------------------------------------
  function start() {
    applyFont(fontIndex());
    applyContrast(localStorage.getItem(CONTRAST_KEY) === "1");
    $("token-form").addEventListener("submit", connect);
    $("chat-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("message");
      const text = input.value;
      if (!state.busy) input.value = ""; // a message typed while the tutor answers stays in the box
      send(text);
    });
    $("new-chat").addEventListener("click", newConversation);
    $("diagram-file").addEventListener("change", readDiagram);
    $("diagram-form").addEventListener("submit", explainDiagram);
    $("font-down").addEventListener("click", () => stepFont(-1));
    $("font-up").addEventListener("click", () => stepFont(1));
    $("contrast").addEventListener("click", () => applyContrast($("contrast").getAttribute("aria-pressed") !== "true"));
    $("source-close").addEventListener("click", closeSource);
    $("source-dialog").addEventListener("close", () => {
      state.sourceRequest++;
      if (state.sourceOpener && document.contains(state.sourceOpener)) state.sourceOpener.focus();
    });
    $("skip-link").addEventListener("click", (event) => {
      event.preventDefault();
      $("message").focus();
    });
    const mic = $("mic");
    mic.hidden = !canRecord();
    mic.addEventListener("click", toggleRecording);
    if (token()) {
      loadSubjects().then((ok) => {
        if (ok) {
          $("auth-status").textContent = "Connected.";
          restoreSession();
        }
      });
    } else {
      document.documentElement.classList.add("needs-token");
      $("auth-status").textContent = "Enter the API token to start.";
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
