"""Candidate.read_length: each candidate's reading length (annotate/reading.py), stored with its text
so the length-bias statistic reads it instead of measuring every text at each recompute.

The column is nullable (a plain ADD COLUMN, no table rebuild on SQLite, so the search triggers of
0022 stay), backfilled in batches of ids (walking the partial index of the rows without a length
in id order: each batch a range scan, not a sort of every row left), and guarded by a trigger: an UPDATE that changes the text
without writing the length clears the length (null: "measure me"), so a writer that forgets it can
make the statistic slower, never wrong.
"""

from django.db import migrations, models

BATCH = 2000

POSTGRES = [
    (
        """
        CREATE FUNCTION annotate_candidate_read_length_stale() RETURNS trigger AS $$
        BEGIN
            NEW.read_length := NULL;
            RETURN NEW;
        END $$ LANGUAGE plpgsql
        """,
        "DROP FUNCTION IF EXISTS annotate_candidate_read_length_stale()",
    ),
    (
        """
        CREATE TRIGGER candidate_read_length_stale
        BEFORE UPDATE OF text ON annotate_candidate FOR EACH ROW
        WHEN (NEW.text IS DISTINCT FROM OLD.text
              AND NEW.read_length IS NOT DISTINCT FROM OLD.read_length)
        EXECUTE FUNCTION annotate_candidate_read_length_stale()
        """,
        "DROP TRIGGER IF EXISTS candidate_read_length_stale ON annotate_candidate",
    ),
]
SQLITE = [
    (
        """
        CREATE TRIGGER candidate_read_length_stale
        AFTER UPDATE OF text ON annotate_candidate
        WHEN OLD.text IS NOT NEW.text AND OLD.read_length IS NEW.read_length
        BEGIN
            UPDATE annotate_candidate SET read_length = NULL WHERE id = NEW.id;
        END
        """,
        "DROP TRIGGER IF EXISTS candidate_read_length_stale",
    ),
]


def _triggers(forward: bool):
    def run(apps, schema_editor):
        statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(
            schema_editor.connection.vendor, []
        )
        for create, drop in statements if forward else reversed(statements):
            schema_editor.execute(create if forward else drop)

    return run


def backfill(apps, schema_editor):
    from annotate.reading import reading_length
    from annotate.sql.candidates import read_lengths_write

    Candidate = apps.get_model("annotate", "Candidate")
    last = 0
    while True:
        rows = list(
            Candidate.objects.filter(id__gt=last, read_length__isnull=True)
            .order_by("id")
            .values_list("id", "text")[:BATCH]
        )
        if not rows:
            return
        read_lengths_write(
            schema_editor.connection, [(cid, reading_length(text or "")) for cid, text in rows]
        )
        last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [("annotate", "0024_rating_judgements")]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="read_length",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="candidate",
            index=models.Index(
                condition=models.Q(("read_length__isnull", True)),
                fields=["id"],
                name="candidate_unmeasured",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(_triggers(True), _triggers(False)),
    ]
