from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularSwaggerSplitView

from annotate.api.schema_view import SchemaView

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switcher (templates/base.html): POST language + next, remembered in a cookie.
    path("i18n/setlang/", set_language, name="set_language"),
    path("backoffice/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script from its own URL (?script), not inline, so
    # the docs run under the site's script-src 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("annotate.api.urls")),
    path("", include("annotate.urls")),
]
