import os

#: The repository's root directory (docs, deploy files and the Dockerfile).
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
