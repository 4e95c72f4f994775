"""
Distribution files: one download per file, fanned out to every waiting client
as it arrives.
"""
