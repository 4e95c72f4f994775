"""
Where cached files, page records and PyPI JSON documents are kept: the storage
seam and its local-directory implementation.
"""
