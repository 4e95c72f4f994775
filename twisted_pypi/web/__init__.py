"""
The HTTP face: every Resource, the one place that mounts the tree, the site and
its access log.
"""
