"""Core: what every domain uses. Validated params (config), the stage command line (stage), atomic JSON/JSONL I/O
(io), content-hash ids (ids), logging and progress (logs), and the typed records that cross stage boundaries
(records).

A params section as `load_config(IngestConfig, "ingest")` returns it, validated:

    IngestConfig(input='data/textbooks', output='artifacts/ingest', cache_dir='.cache/ingest', workers=0, ...)
"""
