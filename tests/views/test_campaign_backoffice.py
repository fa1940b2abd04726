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


def test_a_sets_gold_ranking_is_checked_against_its_members_in_the_back_office(db, client):
    superuser = factories.UserFactory(
        username="root", role="admin", is_staff=True, is_superuser=True
    )
    client.force_login(superuser)
    campaign = factories.CampaignFactory(protocol="ranking")
    unit = factories.ranking_set(campaign=campaign, k=3)
    a, b, c = unit.member_ids()
    url = reverse("admin:annotate_candidateset_change", args=[unit.pk])
    form = {
        "campaign": campaign.pk, "prompt": unit.prompt_id, "part": 0, "needed": 1, "random_key": 0,
        "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
        "members-TOTAL_FORMS": 3, "members-INITIAL_FORMS": 3,
        "members-MIN_NUM_FORMS": 0, "members-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for i, member in enumerate(unit.members.order_by("slot")):
        form |= {
            f"members-{i}-id": member.pk,
            f"members-{i}-candidate_set": unit.pk,
            f"members-{i}-candidate": member.candidate_id,
        }
    refused = client.post(url, {**form, "gold_ranking": '"zzz"'})
    assert refused.status_code == 200 and "gold_ranking" in refused.content.decode()
    refused = client.post(url, {**form, "gold_ranking": f"[[{a}], [{b}]]"})
    assert refused.status_code == 200
    unit.refresh_from_db()
    assert unit.gold_ranking == []
    saved = client.post(url, {**form, "gold_ranking": f"[[{c}], [{a}, {b}]]"})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    unit.refresh_from_db()
    assert unit.gold_ranking == [[c], [a, b]]
