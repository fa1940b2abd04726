"""Reads: every query of pages, the API, commands and exports lives here, one module per area
(campaigns, generation, judging, rating, analytics, exports).

``services`` holds the writes; views and API handlers call a selector and render what it returns.
``exports`` and ``analytics`` get plain dicts and values from here, so they stay free of the ORM.
"""
