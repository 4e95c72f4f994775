"""
``python -m twisted_pypi``: the same as the ``pypiproxy`` command.
"""

from .cli import main

main()
