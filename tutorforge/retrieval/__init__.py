"""Textbook retrieval: section text cut into page-bounded chunks, embedded with MiniLM, searched with FAISS.

    python -m stages.index                                  # artifacts/segment/sections.jsonl -> artifacts/index
    idx = TextbookIndex.load("artifacts/index")             # checksums, embedder and counts verified
    idx.search("what does the vacuole of a plant cell hold?", k=3, subject="biology")
    # [Hit(score=0.71, chunk={"chunk_id": "9c0d...", "file": "biology.pdf", "page": 3, "page_label": "2", ...}), ...]

chunks.py (sections -> chunk records), embedder.py (the sentence encoder, offline by default), store.py (the FAISS
index on disk: build, save, load, search), build.py (the `index` stage's config and run).
"""
