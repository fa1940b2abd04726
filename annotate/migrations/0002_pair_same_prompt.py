"""A pair's two candidates belong to the pair's prompt: enforced by the database, not only in Python.

PostgreSQL: composite foreign keys (candidate_x_id, prompt_id) → candidate (id, prompt_id), which the
unique constraint ``candidate_id_prompt`` makes possible. SQLite cannot add constraints to an existing
table, so it gets triggers that abort the write instead.
"""

from django.db import migrations

POSTGRES = [
    (
        """ALTER TABLE annotate_pair ADD CONSTRAINT pair_a_same_prompt
           FOREIGN KEY (candidate_a_id, prompt_id) REFERENCES annotate_candidate (id, prompt_id)
           ON DELETE CASCADE""",
        "ALTER TABLE annotate_pair DROP CONSTRAINT pair_a_same_prompt",
    ),
    (
        """ALTER TABLE annotate_pair ADD CONSTRAINT pair_b_same_prompt
           FOREIGN KEY (candidate_b_id, prompt_id) REFERENCES annotate_candidate (id, prompt_id)
           ON DELETE CASCADE""",
        "ALTER TABLE annotate_pair DROP CONSTRAINT pair_b_same_prompt",
    ),
]

_SQLITE_CHECK = """
    SELECT RAISE(ABORT, 'pair candidates must belong to the pair''s prompt')
    WHERE (SELECT prompt_id FROM annotate_candidate WHERE id = NEW.candidate_a_id) IS NOT NEW.prompt_id
       OR (SELECT prompt_id FROM annotate_candidate WHERE id = NEW.candidate_b_id) IS NOT NEW.prompt_id;
"""
SQLITE = [
    (
        f"CREATE TRIGGER pair_same_prompt_insert BEFORE INSERT ON annotate_pair BEGIN {_SQLITE_CHECK} END",
        "DROP TRIGGER IF EXISTS pair_same_prompt_insert",
    ),
    (
        f"""CREATE TRIGGER pair_same_prompt_update
            BEFORE UPDATE OF candidate_a_id, candidate_b_id, prompt_id ON annotate_pair
            BEGIN {_SQLITE_CHECK} END""",
        "DROP TRIGGER IF EXISTS pair_same_prompt_update",
    ),
]


def _run(forward: bool):
    def run(apps, schema_editor):
        statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(schema_editor.connection.vendor, [])
        for create, drop in statements if forward else reversed(statements):
            schema_editor.execute(create if forward else drop)

    return run


class Migration(migrations.Migration):
    dependencies = [("annotate", "0001_initial")]
    operations = [migrations.RunPython(_run(True), _run(False))]
