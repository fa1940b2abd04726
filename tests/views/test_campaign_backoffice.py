"""The Django admin back office lists every model without errors."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests import factories


@pytest.mark.parametrize(
    "model", list(apps.get_app_config("annotate").get_models()), ids=lambda m: m.__name__
)
def test_it_lists_every_model(model, db, client):
    superuser = factories.UserFactory(
        username="root", role="admin", is_staff=True, is_superuser=True
    )
    client.force_login(superuser)
    factories.PairFactory()
    assert admin.site.is_registered(model)
    url = reverse(f"admin:annotate_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url + "?q=x").status_code == 200
