"""The API against its own OpenAPI schema: schemathesis (every check it has) on a live server, as an
admin and as a rater, finds no server error and no conformance failure.

What runs: ``st run`` in a subprocess against ``/api/schema/`` of ``live_server``, on a seeded
campaign. The admin gets the coverage phase (every keyword's boundaries, each wrong type, missing
and unknown keys, unsupported methods and content types) and a few fuzzed examples per operation;
the rater, who is refused before any input is read (403 in their campaign, 404 elsewhere), gets
fuzzed examples only, half in their own campaign. Every check is on, except one, for two operations:
``positive_data_acceptance`` on the two imports, because whether a row is accepted depends on the
other rows and on the campaign (annotate/api/import_rows.py says which rules a schema cannot
express).

Deterministic: ``--generation-deterministic`` (no random seed, no example database), one worker
(the same requests in the same order), fixed path parameters. Bounded: the hooks in
tests/api/schemathesis_hooks.py keep one negative coverage case per operation, place and kind of
mutation, and unsupported methods are tried as PUT and DELETE only. schemathesis runs in its own
process and talks only to the live server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from rest_framework.authtoken.models import Token

from annotate.models import Export, User
from annotate.services.exports import export_run
from tests import factories
from tests.exports.builders import campaign_with_votes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")

# Warnings that mean the run did not test what it claims: a token refused, the seeded objects not
# found, a pattern schemathesis cannot generate from, a filter below that matches no operation.
_ALWAYS_FAIL_ON = [
    "unsupported_regex",
    "unresolvable_reference",
    "rate_limited",
    "unmatched_filter",
]

ADMIN_CONFIG = """
hooks = "tests.api.schemathesis_hooks"

[warnings]
fail-on = {fail_on}

[parameters]
"path.slug" = "{slug}"
"path.id" = {export_id}
"path.generator_id" = {generator_id}

[phases.coverage]
unexpected-methods = ["PUT", "DELETE"]

# Rows are refused for what no schema can say: a conversation or id that repeats another row or a
# prompt already stored, a prompt_id naming no stored prompt, turns in an order the importer does
# not take (annotate/api/import_rows.py). Every other check still runs on both imports.
[[operations]]
include-path = "/api/campaigns/{{slug}}/prompts/import/"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/api/campaigns/{{slug}}/responses/import/"
checks.positive_data_acceptance.enabled = false
"""

RATER_CONFIG = """
[warnings]
fail-on = {fail_on}

# Half the examples in the rater's own campaign (403), half anywhere else (404).
[dictionaries]
slugs = {{ values = ["{slug}", "{other_slug}"] }}
exports = {{ values = [{export_id}] }}
generators = {{ values = [{generator_id}] }}

[parameters]
"path.slug" = {{ dictionary = "slugs", probability = 0.5 }}
"path.id" = {{ dictionary = "exports", probability = 0.5 }}
"path.generator_id" = {{ dictionary = "generators", probability = 0.5 }}
"""

RUNS = {
    "admin": {
        "config": ADMIN_CONFIG,
        "fail_on": ["missing_auth", *_ALWAYS_FAIL_ON],
        "args": ["--phases", "examples,coverage,fuzzing", "--max-examples", "2"],
    },
    "rater": {
        "config": RATER_CONFIG,
        "fail_on": _ALWAYS_FAIL_ON,
        "args": ["--phases", "examples,fuzzing", "--max-examples", "4"],
    },
}
# The admin's run must find the seeded objects: only the spare generator may answer nothing but
# 404, once its first DELETE has removed it. (Half the rater's requests are meant to be 404s.)
ADMIN_MAY_ONLY_404 = {"DELETE /api/campaigns/{slug}/generators/{generator_id}/"}


@pytest.fixture
def seeded(transactional_db, redis_app, settings, tmp_path):
    """A campaign with prompts, pairs, votes and a finished export; a generator with nothing
    generated yet (deletable); an admin, and a rater enrolled in this campaign but not the other."""
    settings.EXPORT_ROOT = str(tmp_path / "exports")
    campaign = factories.CampaignFactory(title="Fuzzed", slug="fuzzed")
    campaign_with_votes(campaign)
    other = factories.CampaignFactory(title="Other", slug="other")
    generator = factories.GeneratorFactory(campaign=campaign, name="spare", model="spare-model")
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    admin = factories.UserFactory(username="fuzz-admin", role=User.Role.ADMIN)
    rater = factories.UserFactory(username="fuzz-rater", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    return {
        "slug": campaign.slug,
        "other_slug": other.slug,
        "export_id": export.id,
        "generator_id": generator.id,
        "tokens": {
            "admin": Token.objects.create(user=admin).key,
            "rater": Token.objects.create(user=rater).key,
        },
    }


def _environment() -> dict[str, str]:
    """The st process finds the hooks module from the project root and uses no proxy."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(PYTHONPATH=str(ROOT), NO_PROXY="*")
    return env


@pytest.fixture
def no_nagle(monkeypatch):
    """Django's test server writes a response's headers and body apart; with Nagle's algorithm on,
    the body then waits for the client's delayed ACK on every kept-alive connection (~40 ms a
    request, two thirds of the run)."""
    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)


def _start(persona: str, *, url: str, seeded: dict, folder: Path) -> subprocess.Popen:
    folder.mkdir()
    run = RUNS[persona]
    config = folder / "schemathesis.toml"
    config.write_text(
        run["config"].format(fail_on=json.dumps(run["fail_on"]), **seeded), encoding="utf-8"
    )
    command = [
        str(ST), "--config-file", str(config),
        "run", f"{url}/api/schema/",
        *run["args"],
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "20",
        "--header", f"Authorization: Token {seeded['tokens'][persona]}",
        "--report", "json", "--report-json-path", str(folder / "report.json"),
        "--no-color",
    ]  # fmt: skip
    with open(folder / "output.txt", "w") as output:  # the child keeps its own copy
        return subprocess.Popen(
            command, cwd=folder, env=_environment(), stdout=output, stderr=subprocess.STDOUT
        )


def test_the_api_conforms_to_its_schema_as_an_admin_and_as_a_rater(
    live_server, seeded, no_nagle, tmp_path
):
    # Both at once: every request of the rater's is refused before it reads or changes anything,
    # so the two runs cannot change what the other sees.
    url = live_server.url.replace("localhost", "127.0.0.1")  # no IPv6 attempt per connection
    # drf-spectacular loads its extensions on the first schema it builds, racily: two threads
    # building the first schema at once may fail (a 500). Production workers serve one request at
    # a time; here the first schema is built before the two runs ask for it together.
    warm = Client(HTTP_AUTHORIZATION=f"Token {seeded['tokens']['admin']}")
    assert warm.get("/api/schema/").status_code == 200
    runs = {p: _start(p, url=url, seeded=seeded, folder=tmp_path / p) for p in RUNS}
    for process in runs.values():
        process.wait(timeout=240)

    summaries, problems = [], []
    for persona, process in runs.items():
        output = (tmp_path / persona / "output.txt").read_text()
        report = json.loads((tmp_path / persona / "report.json").read_text())
        operations, cases = report["operations"], report["test_cases"]
        summaries.append(
            f"{persona}: {operations['tested']} operations, {cases['generated']} test cases, "
            f"{len(report['failures'])} failures, {len(report['errors'])} errors, "
            f"{report['running_time']:.1f} s"
        )
        missing = set(report["warnings"]["missing_test_data"]) - ADMIN_MAY_ONLY_404
        if persona == "rater":
            missing = set()
        if process.returncode or report["failures"] or report["errors"] or missing:
            problems.append(f"--- {persona} (missing test data: {sorted(missing)})\n{output}")
        elif operations["tested"] != operations["total"] or cases["generated"] < 3 * 28:
            problems.append(f"--- {persona} tested too little\n{output}")
    print("\n".join(summaries))
    assert not problems, "\n".join([*summaries, *problems])[-30000:]
