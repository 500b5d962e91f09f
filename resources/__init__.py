"""Everything the app shows that is not code: icons, style sheets, sample photos, the desktop entry.

Installed as the package ``enhancer_resources`` (by pip and by the frozen app alike) and read through
``enhancer.resources`` only.
"""
