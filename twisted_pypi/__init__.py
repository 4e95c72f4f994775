"""
twisted-pypi: a streaming pull-through cache for Python package indexes.
"""

__version__ = "0.1.0"
