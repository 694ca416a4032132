"""The tutor's web page, served by the same app as the API: plain HTML, CSS and JavaScript from tutorforge/serve/web/.

    add_web_routes(app, index, authorized)     # called once by create_app (tutorforge/serve/app.py)
    GET /                        the page (public: it holds no data; it asks for the API token and keeps it in the
                                 tab's sessionStorage)
    GET /static/{name}           app.js, style.css (public; only the files shipped in web/, nothing else on disk)
    GET /v1/subjects             {"subjects": ["biology", "chemistry", ...]}   (token; the page's subject selector)
    GET /v1/sources/{chunk_id}   {"chunk_id", "file", "page", "page_label", "heading_path", "subject", "text"}
                                 the index chunk a citation names (token; 404 for an unknown id, 422 for one that is
                                 not a chunk id: ids are looked up in the index, never turned into file paths)

The page talks to the API with `Authorization: Bearer <token>`: POST /chat streamed (session id from `X-Session-Id`),
GET /v1/sources for a citation's text, POST /v1/audio/transcriptions for the mic button. Every response of these
routes names its route template, so /metrics counts them under bounded labels ("/static/{name}", not each URL).
A strict Content-Security-Policy (scripts and styles from this origin only, no inline code) backs up the page's rule
of writing model output as text, never as HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import FileResponse

from tutorforge.retrieval.store import TextbookIndex

WEB = FilePath(__file__).resolve().parent / "web"
CHUNK_ID = r"^[A-Za-z0-9_-]{1,64}$"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
SOURCE_FIELDS = ("chunk_id", "file", "page", "page_label", "heading_path", "subject", "text")


def shipped_files(folder: FilePath = WEB) -> dict[str, FilePath]:
    """name -> path of the page's assets (the folder's own files with a known type; read once at start-up)."""
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in MEDIA_TYPES}


def add_web_routes(app: FastAPI, index: TextbookIndex, authorized: Callable[[Request], None]) -> None:
    """Add the page, its assets and the two API routes it needs to `app` (`authorized` is the app's token check)."""
    files = shipped_files()
    if "index.html" not in files:
        raise FileNotFoundError(f"{WEB / 'index.html'} is missing: the package was installed without its web files")
    by_id = {c["chunk_id"]: c for c in index.chunks}

    def asset(name: str) -> FileResponse:
        path = files[name]
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return asset("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in files or name == "index.html":  # a fixed set: nothing else on disk is reachable
            raise HTTPException(404, f"no static file {name!r}")
        return asset(name)

    @app.get("/v1/subjects", dependencies=[Depends(authorized)])
    def subjects() -> dict[str, Any]:
        return {"subjects": index.subjects}

    @app.get("/v1/sources/{chunk_id}", dependencies=[Depends(authorized)])
    def source(chunk_id: str = Path(pattern=CHUNK_ID)) -> dict[str, Any]:
        chunk = by_id.get(chunk_id)
        if chunk is None:
            raise HTTPException(404, f"no chunk {chunk_id}")
        return {f: chunk.get(f) for f in SOURCE_FIELDS}
