"""What `kb bench` measures: corpus generation, index builds, in-process and HTTP latency.

Only the `kb bench` command and `benchmarks/` import this package; the service never does.
Results are plain dicts (JSON-ready) so that `benchmarks/plot.py` and the docs can read a
results file without importing kb.
"""
