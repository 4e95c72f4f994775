"""
Where pages come from: the remote page caches, local directories, the offline
view, dummy projects, and the router over them.
"""
