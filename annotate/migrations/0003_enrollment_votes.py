from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_existing_votes(apps, schema_editor):
    """Start the counter at what is already stored: first human votes per rater and campaign."""
    Enrollment = apps.get_model("annotate", "Enrollment")
    Judgment = apps.get_model("annotate", "Judgment")
    votes = (
        Judgment.objects.filter(
            campaign=OuterRef("campaign"),
            rater=OuterRef("rater"),
            source="human",
            revises__isnull=True,
        )
        .order_by()
        .values("rater")
        .annotate(n=Count("id"))
        .values("n")
    )
    Enrollment.objects.update(votes=Coalesce(Subquery(votes), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0002_pair_same_prompt"),
    ]

    operations = [
        migrations.AddField(
            model_name="enrollment",
            name="votes",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count_existing_votes, migrations.RunPython.noop),
    ]
