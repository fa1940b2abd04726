"""Every statement of annotate/sql, on both databases.

``bin/test`` runs this folder on PostgreSQL; test_on_sqlite.py runs it again on SQLite (the embedded
default), leaving out the tests marked ``postgresql`` (statements SQLite has no form of; the ORM
serves it there). A statement with a PostgreSQL form ("one statement") and a SQLite form ("step by
step") runs both on PostgreSQL, where the SQLite form is plain SQL too, as
tests/services/test_judgment_record.py does for the vote; ``FORMS`` names the forms the database at
hand runs.
"""

from __future__ import annotations

from django.conf import settings

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]
FORMS = ["one statement", "step by step"] if ON_POSTGRES else ["step by step"]
