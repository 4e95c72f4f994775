"""
Private packages: the upload store and its users.
"""
