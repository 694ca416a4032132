"""Pages -> sections: headings from the PDF outline or from fonts and numbering, exact page spans, a subject per
section (file-name map, else a keyword classifier).

A section record (artifacts/segment/sections.jsonl):

    {"section_id": "3beff218d7933ed1", "doc_id": "a39673882e1934a4", "file": "biology.pdf",
     "chapter": "Chapter 1 Cells and Tissues", "heading_path": ["Chapter 1 Cells and Tissues", "1.1 What Is a Cell?"],
     "level": 2, "page_start": 2, "page_end": 2, "spans": [{"page": 2, "start": 0, "end": 1440}],
     "subject": "biology", "subject_confidence": 1.0, "subject_source": "map", "method": "outline",
     "part": 1, "n_parts": 1, "n_chars": 1440, "text": "Chapter 1 Cells and Tissues\n1.1 What Is a Cell?\n..."}
"""
