"""HTML pages. One URL per page; htmx requests get a partial of the same template.

Each area owns its block below; keep edits inside your block.
"""

from django.urls import path

from annotate.views import home

app_name = "annotate"

urlpatterns = [
    path("", home.home, name="home"),
]

# --- admin pages: campaigns, prompts, generators, enrollment (annotate/views/campaigns.py) ---

# --- generation (annotate/views/generation.py) ---

# --- rating workbench (annotate/views/rate.py) ---

# --- researcher: progress, analytics, exports (annotate/views/research.py) ---
