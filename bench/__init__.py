"""
Benchmarks of twisted-pypi against nginx, on a local upstream.

Run ``python bench/run.py`` from the repository root; see
``docs/benchmarks.md``.
"""
