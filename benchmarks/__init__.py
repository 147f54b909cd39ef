"""Benchmarks of the real services beside same-run baselines (``make bench``, issue 7).

See ``python -m benchmarks --help`` and docs/benchmarks.md.
"""
