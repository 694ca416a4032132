"""Code shared by two or more stages (params, JSONL I/O, atomic writes, ids, logging)."""
