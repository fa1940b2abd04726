"""Migration 0010: free-text gold answers become one of the choices, or nothing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.models.migrations import migrate_to, schema_at

BEFORE = [("annotate", "0009_ttc")]
AFTER = [("annotate", "0010_pair_gold_choices")]


@pytest.mark.slow
def test_it_normalises_known_answers_and_clears_the_rest(transactional_db):
    with schema_at(BEFORE) as old:
        campaign = old.get_model("annotate", "Campaign").objects.create(title="c", slug="c")
        prompt = old.get_model("annotate", "Prompt").objects.create(
            campaign=campaign, messages=[{"role": "user", "content": "q"}], content_hash="h"
        )
        generator = old.get_model("annotate", "Generator").objects.create(
            campaign=campaign, name="g", model="m", provider="demo"
        )
        candidate = old.get_model("annotate", "Candidate")
        pair = old.get_model("annotate", "Pair")
        answers = ["a", "B", " tie ", "Both bad", "zzz", "", "both_bad"]
        ids = {}
        for i, answer in enumerate(answers):
            a = candidate.objects.create(prompt=prompt, generator=generator, sample_index=2 * i)
            b = candidate.objects.create(prompt=prompt, generator=generator, sample_index=2 * i + 1)
            ids[answer] = pair.objects.create(
                campaign=campaign, prompt=prompt, candidate_a=a, candidate_b=b, gold_answer=answer
            ).id
        new = migrate_to(AFTER)
        after = dict(new.get_model("annotate", "Pair").objects.values_list("id", "gold_answer"))
        assert {answer: after[i] for answer, i in ids.items()} == {
            "a": "a",
            "B": "b",
            " tie ": "tie",
            "Both bad": "both_bad",
            "zzz": "",  # meant nothing: no longer gold
            "": "",
            "both_bad": "both_bad",
        }
        with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses it too
            new.get_model("annotate", "Pair").objects.filter(id=ids["a"]).update(gold_answer="zzz")
