"""
The application: options, configuration files, the ``pypiproxy`` command and
the one composition root (:mod:`twisted_pypi.app.compose`).
"""
