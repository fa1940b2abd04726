"""Reads: every query that pages, the API, commands and exports share lives here, by area.

``services`` holds the writes; views and API handlers call a selector and render what it returns
(plain dicts and values, so ``exports`` and ``analytics`` stay free of the ORM).
"""
