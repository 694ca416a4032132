"""Sample and synthetic corpora: the bundled textbooks (markdown sources -> PDFs, deterministic), the seed
annotation export, and generated school-like text for tests and benchmarks.

A book's manifest entry (data/sources/corpus_manifest.json):

    {"file": "biology.pdf", "subject": "biology", "title": "Exploring Biology", "pages": 11, "scan_pages": [4, 9],
     "has_outline": true, "toc_page": false, "page_labels": true, "headings": [...]}
"""
