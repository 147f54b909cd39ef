"""Benchmarks of the real services beside same-run baselines (``make bench``, issue 7).

See ``python -m cungdan.bench --help`` and BENCHMARKS.md.
"""
