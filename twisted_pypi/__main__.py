"""
``python -m twisted_pypi``: the same as the ``pypiproxy`` command.
"""

from twisted_pypi.app.cli import main

main()
