"""REST API (DRF). One APIView per operation; each area owns its block below."""

from django.urls import path  # noqa: F401

app_name = "api"

urlpatterns: list = []
