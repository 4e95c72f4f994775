"""Tests for twisted_pypi.objectstore."""
