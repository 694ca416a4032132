"""Test support: real servers as processes (servers), awkward PDFs (pdfs), a tiny evaluate tree (eval_artifacts),
fixture sections (sections), throwaway project copies (repo), store wrappers that inject a crash mid-upload or a
concurrent alias writer (registry_faults), registry payloads and params (registry_data), Label Studio test data
and a connection-cutting proxy (label_studio), page records for the segment tests (pages).
conftest.py starts the servers as session fixtures."""
