"""A URLconf with one view that fails, for tests/project/test_error_pages.py."""

from django.urls import path


def boom(request):
    api_key = "sk-ant-in-a-local-variable"  # noqa: F841 (what a careless view could hold)
    raise RuntimeError("the view failed")


urlpatterns = [path("boom/", boom)]
