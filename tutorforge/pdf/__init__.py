"""PDF in, page records out: open and validate a file, read its text layer, OCR what has none (tesseract), clean
the text, in a crash-tolerant process pool (`ingest.py`); and the one PDF writer used by the corpus builder and tests.

A page record (artifacts/ingest/pages.jsonl):

    {"doc_id": "a39673882e1934a4", "file": "biology.pdf", "page": 1, "page_label": "i", "method": "text",
     "ocr_confidence": null, "chars": 140, "text": "Exploring Biology\nA school textbook of biology ...",
     "lines": [{"start": 0, "end": 17, "size": 28.0, "bold": true}, ...]}
"""
