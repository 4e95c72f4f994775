"""
The HTTP client side: asking upstream indexes for pages and files.
"""
