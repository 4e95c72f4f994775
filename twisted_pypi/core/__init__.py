"""
The domain core: records, names, links, the lookup vocabulary, parsing,
rendering and negotiation of index pages. Imports nothing from the layers above
it and nothing from ``twisted.web``.
"""
