"""
Dependency resolution over the index: targets, candidates, core metadata, and
``pypiproxy analyze``.
"""
