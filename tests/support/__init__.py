"""Test support: real servers as processes (servers), awkward PDFs (pdfs), a tiny evaluate tree (eval_artifacts),
fixture sections (sections), throwaway project copies (repo). conftest.py exposes them as fixtures."""
