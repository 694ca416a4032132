"""Benchmarks: run each as a module from the repo root, e.g. `python -m benchmarks.ingest`.

As modules, this folder never lands on sys.path, so `benchmarks/select.py` cannot shadow the stdlib `select`.
"""
