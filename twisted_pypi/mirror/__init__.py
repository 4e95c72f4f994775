"""
The offline mirror: ``pypiproxy warm`` fills the cache, ``pypiproxy export``
writes a static tree.
"""
