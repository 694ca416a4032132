"""`tutorforge serve`: the tutor behind an HTTP API (FastAPI + uvicorn), on a registry version or a local folder.

    export TUTORFORGE_API_TOKEN=...                   # bearer token for every endpoint but /health
    tutorforge serve                                  # params.yaml [serve]: registry alias `production`, 127.0.0.1:8000
    tutorforge serve --model artifacts --port 8080    # the pipeline's own outputs (artifacts/sft/merged + artifacts/index)
    curl -H "Authorization: Bearer $TUTORFORGE_API_TOKEN" "http://127.0.0.1:8000/context?q=what+is+osmosis&k=3"
    # {"query": "what is osmosis", "chunks": [{"rank": 1, "score": 0.71, "file": "biology.pdf", "page": 4,
    #   "page_label": "3", "heading_path": [...], "text": "...", "start": 812, "end": 1490}, ...]}

config.py (params [serve]), bundle.py (what is served: a verified registry download or a local folder), app.py (the
HTTP app: auth, limits, health, models, context, Prometheus metrics).
"""
