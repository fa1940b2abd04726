"""Gold answers become one of the scale's choices (a, b, tie, both bad), checked in the database.

Before this a gold answer was free text, so a row may hold "A", " tie " or "zzz". Case and blanks
are normalised ("A" → "a", "both bad" → "both_bad"); anything else meant nothing to the gold check
(no vote could equal it, so every rater shown the pair lost accuracy) and is cleared: the pair is
no longer gold, and the admin can mark it again on the gold page.
"""

from django.db import migrations, models

KNOWN = {"a", "b", "tie", "both_bad"}


def normalise(apps, schema_editor):
    Pair = apps.get_model("annotate", "Pair")
    for pair_id, answer in Pair.objects.exclude(gold_answer="").values_list("id", "gold_answer"):
        if answer in KNOWN:
            continue
        cleaned = answer.strip().lower().replace(" ", "_").replace("-", "_")
        Pair.objects.filter(pk=pair_id).update(gold_answer=cleaned if cleaned in KNOWN else "")


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0009_ttc"),
    ]

    operations = [
        migrations.RunPython(normalise, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="pair",
            name="gold_answer",
            field=models.CharField(
                blank=True,
                choices=[
                    ("a", "A is better"),
                    ("b", "B is better"),
                    ("tie", "Tie"),
                    ("both_bad", "Both bad"),
                ],
                max_length=8,
            ),
        ),
        migrations.AddConstraint(
            model_name="pair",
            constraint=models.CheckConstraint(
                condition=models.Q(gold_answer__in=["", "a", "b", "tie", "both_bad"]),
                name="pair_gold_answer_known",
            ),
        ),
    ]
