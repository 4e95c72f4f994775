"""
The PyPI JSON API (``/pypi/<project>/json``) cache.
"""
