"""
The twistd plugin for twisted-pypi: ``twistd -n pypiproxy``.

This module is imported whenever any program scans for Twisted plugins, so it
stays import-light: Twisted imports :mod:`twisted_pypi.app.twistdtap` only when the
``pypiproxy`` subcommand is actually used.
"""

from twisted.application.service import ServiceMaker

twisted_pypi = ServiceMaker(
    "twisted-pypi",
    "twisted_pypi.app.twistdtap",
    "A streaming, caching proxy for Python package indexes",
    "pypiproxy",
)
