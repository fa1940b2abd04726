"""A candidate's words reach its pair's search document when its text is final, not while it streams.

0022's trigger rebuilt the pair's document at every change of a candidate's text. A live reply's
text so far is saved every few seconds while it streams (services/live.py SAVE_EVERY), so each save
rebuilt the document of the whole pair (the prompt's every turn, both replies, every rationale):
with 200 replies streaming at once that was most of PostgreSQL's share of the machine
(bench/live.py --source real).

Now the rebuild runs when a candidate's text changes on a row that is not RUNNING, and when a row
leaves RUNNING (done, failed with the part it had, or back to pending): every text a reader can
see as a response is indexed, once; the half texts of a running row are not. Generation's
candidates are unchanged in effect (their text is written with DONE in one update).
"""

from importlib import import_module

from django.db import migrations

search = import_module("annotate.migrations.0022_search")

_PAIRS = (
    "SELECT id FROM annotate_pair WHERE candidate_a_id = NEW.id "
    "UNION SELECT id FROM annotate_pair WHERE candidate_b_id = NEW.id"
)
_PG_OLD, _PG_DROP = search._pg_trigger(
    "pairsearch_candidate_update",
    "AFTER UPDATE OF text ON annotate_candidate FOR EACH ROW "
    "WHEN (OLD.text IS DISTINCT FROM NEW.text)",
)
_PG_NEW = search._pg_trigger(
    "pairsearch_candidate_update",
    "AFTER UPDATE OF text, status ON annotate_candidate FOR EACH ROW "
    "WHEN (NEW.status <> 'running' "
    "AND (OLD.text IS DISTINCT FROM NEW.text OR OLD.status = 'running'))",
)[0]

_SQLITE_OLD, _SQLITE_DROP = search._sqlite_trigger(
    "pairsearch_candidate_update",
    "AFTER UPDATE OF text ON annotate_candidate WHEN OLD.text IS NOT NEW.text",
    search._sqlite_refresh(_PAIRS),
)
_SQLITE_NEW = search._sqlite_trigger(
    "pairsearch_candidate_update",
    "AFTER UPDATE OF text, status ON annotate_candidate WHEN NEW.status <> 'running' "
    "AND (OLD.text IS NOT NEW.text OR OLD.status = 'running')",
    search._sqlite_refresh(_PAIRS),
)[0]


def _swap(forward: bool):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(_PG_DROP)
            schema_editor.execute(_PG_NEW if forward else _PG_OLD)
        elif vendor == "sqlite":
            schema_editor.execute(_SQLITE_DROP)
            schema_editor.execute(_SQLITE_NEW if forward else _SQLITE_OLD)

    return run


class Migration(migrations.Migration):
    dependencies = [("annotate", "0025_candidate_read_length")]

    operations = [migrations.RunPython(_swap(True), _swap(False))]
