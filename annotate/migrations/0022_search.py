"""The words each pair is found by (PairSearch), kept by the database itself.

A pair's document is its prompt (system prompt and every turn), both responses, and every rationale
and rewrite written about it (votes of every source, adjudications, the judge's verdicts); each part
is cut at its first 60,000 characters, which keeps the largest document under PostgreSQL's 1 MB
limit of a tsvector whatever the text.

Triggers write it, so every write path keeps it right, the bulk ones too (``bulk_create``,
``INSERT … SELECT``): the pair's row is made when the pair is inserted, and rebuilt whole when a
judgment with a rationale or rewrite is inserted, changed or deleted, when a verdict's rationale is
stored, or when a candidate's text, a prompt's text or a pair's candidates change. A rebuild only
updates an existing row, so it never brings back the row of a pair being deleted.

PostgreSQL: ``document`` is a tsvector (the ``simple`` configuration: words of any language as
written, no stemming, no stop words) weighted A for the prompt, B for the responses, C for the
rest, with a GIN index. The statement-level triggers read their transition tables, so a bulk insert
costs one statement, not one call per row.
SQLite: ``document`` is plain text, the external content of the FTS5 table
``annotate_pairsearch_fts`` (rowid = pair id), which three triggers on annotate_pairsearch keep
in step, as the FTS5 documentation shows.

On SQLite a later migration that rebuilds one of the tables these triggers read (annotate_pair,
annotate_prompt, annotate_candidate, annotate_judgment, annotate_judgeverdict: Django rebuilds a
table there to add a NOT NULL column or change a constraint) fails with "error in trigger …: no
such table"; such a migration must drop the triggers first and create them again after (the
trigger statements of this module, not its tables, whose rows would be lost). That is why the
migrations before this one hold the changes to those tables made at the same time.
tests/selectors/test_browse_on_sqlite.py migrates a fresh SQLite database and fails if one is
added after it without that.
"""

import django.db.models.deletion
from django.db import migrations, models

import annotate.models.rating

CAP = 60_000

# --- PostgreSQL ----------------------------------------------------------------------------------

_PG_DOC = f"""
SELECT p.id AS pair_id, p.campaign_id,
       setweight(to_tsvector('simple', left(pr.system || ' ' || coalesce((
           SELECT string_agg(m.turn ->> 'content', ' ')
           FROM jsonb_array_elements(CASE jsonb_typeof(pr.messages)
                WHEN 'array' THEN pr.messages ELSE '[]'::jsonb END) AS m(turn)), ''), {CAP})), 'A')
    || setweight(to_tsvector('simple', left(ca.text, {CAP}) || ' ' || left(cb.text, {CAP})), 'B')
    || setweight(to_tsvector('simple', left(coalesce((
           SELECT string_agg(j.rationale || ' ' || j.rewrite, ' ')
           FROM annotate_judgment j WHERE j.pair_id = p.id), '') || ' ' || coalesce((
           SELECT string_agg(v.rationale, ' ')
           FROM annotate_judgeverdict v WHERE v.pair_id = p.id), ''), {CAP})), 'C') AS document
FROM annotate_pair p
JOIN annotate_prompt pr ON pr.id = p.prompt_id
JOIN annotate_candidate ca ON ca.id = p.candidate_a_id
JOIN annotate_candidate cb ON cb.id = p.candidate_b_id
WHERE p.id IN ({{ids}})
"""


def _pg_insert(ids: str) -> str:
    return (
        "INSERT INTO annotate_pairsearch (pair_id, campaign_id, document) "
        + _PG_DOC.format(ids=ids)
        + " ON CONFLICT (pair_id) DO NOTHING"
    )


def _pg_refresh(ids: str) -> str:
    return (
        "UPDATE annotate_pairsearch s SET document = d.document FROM ("
        + _PG_DOC.format(ids=ids)
        + ") AS d WHERE s.pair_id = d.pair_id"
    )


def _pg_function(name: str, body: str) -> tuple[str, str]:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body}; RETURN NULL; END $$",
        f"DROP FUNCTION IF EXISTS {name}()",
    )


def _pg_trigger(name: str, when: str) -> tuple[str, str]:
    table = when.split(" ON ")[1].split()[0]
    return (
        f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {name}()",
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
    )


_NOTES = "rationale <> '' OR rewrite <> ''"
POSTGRES = [
    (
        "CREATE INDEX annotate_pairsearch_document ON annotate_pairsearch USING gin (document)",
        "DROP INDEX IF EXISTS annotate_pairsearch_document",
    ),
    (_pg_insert("SELECT id FROM annotate_pair"), "SELECT 1"),  # the pairs already there
    _pg_function("pairsearch_pair_insert", _pg_insert("SELECT id FROM new_rows")),
    _pg_trigger(
        "pairsearch_pair_insert",
        "AFTER INSERT ON annotate_pair REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    ),
    _pg_function("pairsearch_pair_update", _pg_refresh("NEW.id")),
    _pg_trigger(
        "pairsearch_pair_update",
        "AFTER UPDATE OF prompt_id, candidate_a_id, candidate_b_id ON annotate_pair FOR EACH ROW "
        "WHEN (OLD.prompt_id <> NEW.prompt_id OR OLD.candidate_a_id <> NEW.candidate_a_id "
        "OR OLD.candidate_b_id <> NEW.candidate_b_id)",
    ),
    _pg_function(
        "pairsearch_judgment_insert",
        _pg_refresh(f"SELECT pair_id FROM new_rows WHERE {_NOTES}"),
    ),
    _pg_trigger(
        "pairsearch_judgment_insert",
        "AFTER INSERT ON annotate_judgment REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    ),
    _pg_function(
        "pairsearch_judgment_delete",
        _pg_refresh(f"SELECT pair_id FROM old_rows WHERE {_NOTES}"),
    ),
    _pg_trigger(
        "pairsearch_judgment_delete",
        "AFTER DELETE ON annotate_judgment REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT",
    ),
    _pg_function("pairsearch_judgment_update", _pg_refresh("OLD.pair_id, NEW.pair_id")),
    _pg_trigger(
        "pairsearch_judgment_update",
        "AFTER UPDATE OF rationale, rewrite, pair_id ON annotate_judgment FOR EACH ROW "
        "WHEN (OLD.rationale <> NEW.rationale OR OLD.rewrite <> NEW.rewrite "
        "OR OLD.pair_id <> NEW.pair_id)",
    ),
    _pg_function(
        "pairsearch_verdict_insert",
        _pg_refresh("SELECT pair_id FROM new_rows WHERE rationale <> ''"),
    ),
    _pg_trigger(
        "pairsearch_verdict_insert",
        "AFTER INSERT ON annotate_judgeverdict REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
    ),
    _pg_function("pairsearch_verdict_update", _pg_refresh("OLD.pair_id, NEW.pair_id")),
    _pg_trigger(
        "pairsearch_verdict_update",
        "AFTER UPDATE OF rationale, pair_id ON annotate_judgeverdict FOR EACH ROW "
        "WHEN (OLD.rationale IS DISTINCT FROM NEW.rationale OR OLD.pair_id IS DISTINCT FROM NEW.pair_id)",
    ),
    _pg_function(
        "pairsearch_candidate_update",
        _pg_refresh(
            "SELECT id FROM annotate_pair WHERE candidate_a_id = NEW.id "
            "UNION SELECT id FROM annotate_pair WHERE candidate_b_id = NEW.id"
        ),
    ),
    _pg_trigger(
        "pairsearch_candidate_update",
        "AFTER UPDATE OF text ON annotate_candidate FOR EACH ROW "
        "WHEN (OLD.text IS DISTINCT FROM NEW.text)",
    ),
    _pg_function(
        "pairsearch_prompt_update",
        _pg_refresh("SELECT id FROM annotate_pair WHERE prompt_id = NEW.id"),
    ),
    _pg_trigger(
        "pairsearch_prompt_update",
        "AFTER UPDATE OF messages, system ON annotate_prompt FOR EACH ROW "
        "WHEN (OLD.messages IS DISTINCT FROM NEW.messages OR OLD.system IS DISTINCT FROM NEW.system)",
    ),
]

# --- SQLite --------------------------------------------------------------------------------------


def _sqlite_doc(pair_id: str) -> str:
    return f"""(
SELECT substr(pr.system || ' ' || coalesce((
           SELECT group_concat(CASE WHEN m.type = 'object'
                                    THEN json_extract(m.value, '$.content') END, ' ')
           FROM json_each(pr.messages) AS m), ''), 1, {CAP})
    || ' ' || substr(ca.text, 1, {CAP}) || ' ' || substr(cb.text, 1, {CAP})
    || ' ' || substr(coalesce((
           SELECT group_concat(j.rationale || ' ' || j.rewrite, ' ')
           FROM annotate_judgment j WHERE j.pair_id = p.id), '') || ' ' || coalesce((
           SELECT group_concat(v.rationale, ' ')
           FROM annotate_judgeverdict v WHERE v.pair_id = p.id), ''), 1, {CAP})
FROM annotate_pair p
JOIN annotate_prompt pr ON pr.id = p.prompt_id
JOIN annotate_candidate ca ON ca.id = p.candidate_a_id
JOIN annotate_candidate cb ON cb.id = p.candidate_b_id
WHERE p.id = {pair_id})"""


def _sqlite_refresh(ids: str) -> str:
    return (
        f"UPDATE annotate_pairsearch SET document = {_sqlite_doc('annotate_pairsearch.pair_id')} "
        f"WHERE pair_id IN ({ids});"
    )


def _sqlite_trigger(name: str, when: str, body: str) -> tuple[str, str]:
    return (f"CREATE TRIGGER {name} {when} BEGIN {body} END", f"DROP TRIGGER IF EXISTS {name}")


SQLITE = [
    (
        "CREATE VIRTUAL TABLE annotate_pairsearch_fts USING fts5("
        "document, content='annotate_pairsearch', content_rowid='pair_id')",
        "DROP TABLE IF EXISTS annotate_pairsearch_fts",
    ),
    _sqlite_trigger(
        "pairsearch_fts_insert",
        "AFTER INSERT ON annotate_pairsearch",
        "INSERT INTO annotate_pairsearch_fts (rowid, document) VALUES (NEW.pair_id, NEW.document);",
    ),
    _sqlite_trigger(
        "pairsearch_fts_delete",
        "AFTER DELETE ON annotate_pairsearch",
        "INSERT INTO annotate_pairsearch_fts (annotate_pairsearch_fts, rowid, document) "
        "VALUES ('delete', OLD.pair_id, OLD.document);",
    ),
    _sqlite_trigger(
        "pairsearch_fts_update",
        "AFTER UPDATE ON annotate_pairsearch",
        "INSERT INTO annotate_pairsearch_fts (annotate_pairsearch_fts, rowid, document) "
        "VALUES ('delete', OLD.pair_id, OLD.document); "
        "INSERT INTO annotate_pairsearch_fts (rowid, document) VALUES (NEW.pair_id, NEW.document);",
    ),
    (
        "INSERT INTO annotate_pairsearch (pair_id, campaign_id, document) "
        f"SELECT id, campaign_id, {_sqlite_doc('outer_pair.id')} FROM annotate_pair AS outer_pair",
        "SELECT 1",
    ),
    _sqlite_trigger(
        "pairsearch_pair_insert",
        "AFTER INSERT ON annotate_pair",
        "INSERT INTO annotate_pairsearch (pair_id, campaign_id, document) "
        f"VALUES (NEW.id, NEW.campaign_id, {_sqlite_doc('NEW.id')});",
    ),
    _sqlite_trigger(
        "pairsearch_pair_update",
        "AFTER UPDATE OF prompt_id, candidate_a_id, candidate_b_id ON annotate_pair "
        "WHEN OLD.prompt_id <> NEW.prompt_id OR OLD.candidate_a_id <> NEW.candidate_a_id "
        "OR OLD.candidate_b_id <> NEW.candidate_b_id",
        _sqlite_refresh("NEW.id"),
    ),
    _sqlite_trigger(
        "pairsearch_judgment_insert",
        "AFTER INSERT ON annotate_judgment WHEN NEW.rationale <> '' OR NEW.rewrite <> ''",
        _sqlite_refresh("NEW.pair_id"),
    ),
    _sqlite_trigger(
        "pairsearch_judgment_delete",
        "AFTER DELETE ON annotate_judgment WHEN OLD.rationale <> '' OR OLD.rewrite <> ''",
        _sqlite_refresh("OLD.pair_id"),
    ),
    _sqlite_trigger(
        "pairsearch_judgment_update",
        "AFTER UPDATE OF rationale, rewrite, pair_id ON annotate_judgment "
        "WHEN OLD.rationale <> NEW.rationale OR OLD.rewrite <> NEW.rewrite "
        "OR OLD.pair_id <> NEW.pair_id",
        _sqlite_refresh("OLD.pair_id, NEW.pair_id"),
    ),
    _sqlite_trigger(
        "pairsearch_verdict_insert",
        "AFTER INSERT ON annotate_judgeverdict WHEN NEW.rationale <> '' AND NEW.pair_id IS NOT NULL",
        _sqlite_refresh("NEW.pair_id"),
    ),
    _sqlite_trigger(
        "pairsearch_verdict_update",
        "AFTER UPDATE OF rationale, pair_id ON annotate_judgeverdict "
        "WHEN OLD.rationale IS NOT NEW.rationale OR OLD.pair_id IS NOT NEW.pair_id",
        _sqlite_refresh("OLD.pair_id, NEW.pair_id"),
    ),
    _sqlite_trigger(
        "pairsearch_candidate_update",
        "AFTER UPDATE OF text ON annotate_candidate WHEN OLD.text IS NOT NEW.text",
        _sqlite_refresh(
            "SELECT id FROM annotate_pair WHERE candidate_a_id = NEW.id "
            "UNION SELECT id FROM annotate_pair WHERE candidate_b_id = NEW.id"
        ),
    ),
    _sqlite_trigger(
        "pairsearch_prompt_update",
        "AFTER UPDATE OF messages, system ON annotate_prompt "
        "WHEN OLD.messages IS NOT NEW.messages OR OLD.system IS NOT NEW.system",
        _sqlite_refresh("SELECT id FROM annotate_pair WHERE prompt_id = NEW.id"),
    ),
]


def _run(forward: bool):
    def run(apps, schema_editor):
        statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(
            schema_editor.connection.vendor, []
        )
        for create, drop in statements if forward else reversed(statements):
            schema_editor.execute(create if forward else drop)

    return run


class Migration(migrations.Migration):
    dependencies = [("annotate", "0021_webhooks")]

    operations = [
        migrations.CreateModel(
            name="PairSearch",
            fields=[
                (
                    "pair",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search",
                        serialize=False,
                        to="annotate.pair",
                    ),
                ),
                ("document", annotate.models.rating.SearchDocumentField(blank=True)),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="annotate.campaign",
                    ),
                ),
            ],
        ),
        migrations.RunPython(_run(True), _run(False)),
    ]
