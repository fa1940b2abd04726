"""The API against its own OpenAPI schema: schemathesis, with every check it has, on a live server,
as an admin and as a rater, finds no server error and no conformance failure.

What runs: ``st run`` against ``/api/schema/`` of ``live_server``, in two processes at once (the
rater's requests are all refused before anything is read or changed, so neither run changes what the
other sees), on a seeded campaign. The admin gets the coverage phase (each keyword's boundaries, each
wrong type, missing and unknown keys, unsupported methods and content types, the schema's examples)
and a few fuzzed examples per operation; the rater, refused first thing everywhere (403 in their own
campaign, 404 elsewhere), gets fuzzed examples only, half of them in their own campaign.

Every check runs on every operation but one: ``positive_data_acceptance`` is off for the operations
the config below names, each with its reason (rules of the campaign, of other rows, or of a string's
content that the schema states only as a string; annotate/api/import_rows.py lists the imports'). Checks are not named on the command
line: they are all on by default, and ``--checks all`` would switch that exclusion back on.

Deterministic: ``--generation-deterministic`` (no random seed, no example database), one worker per
run (the same requests in the same order), the seeded objects as path parameters. Bounded: the hooks
in tests/api/schemathesis_hooks.py keep one negative coverage case per operation, place and kind of
mutation; unsupported methods are tried as PUT and DELETE. schemathesis talks to 127.0.0.1 only.
``bin/test tests/api/test_api_schemathesis.py -s`` prints what each run tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from rest_framework.authtoken.models import Token

from annotate.models import Export, PromptImport, User, Webhook
from annotate.services.exports import export_run
from tests import factories
from tests.exports.builders import campaign_with_votes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")

# Warnings that mean a run did not test what it claims: a pattern schemathesis cannot generate
# from, a reference it cannot follow, a 429 (the token throttle), a filter that matches nothing.
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
"path.import_id" = {import_id}
"path.pair_id" = {pair_id}
"path.webhook_id" = {webhook_id}

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

# A strength is refused where the campaign's scale has none (the binary scale) or the label is a
# tie: a rule of the campaign's settings, not of the body's shape.
[[operations]]
include-path = "/api/campaigns/{{slug}}/pairs/{{pair_id}}/adjudicate/"
checks.positive_data_acceptance.enabled = false

# An export's view filter is a query string of the campaign's browse page, checked like the page
# checks it (known filters, their values, the campaign's generators): the schema states a string.
[[operations]]
include-path = "/api/campaigns/{{slug}}/exports/create/"
checks.positive_data_acceptance.enabled = false

# The units list reads the browse page's query string with the page's form: a generator of the
# campaign, a cursor of the chosen sort, "best match" only with a search, no key twice; the schema
# states strings.
[[operations]]
include-path = "/api/campaigns/{{slug}}/units/"
checks.positive_data_acceptance.enabled = false

# A rating's aspects are the keys of an object, and no key may hold a NUL character (the JSON
# parser refuses it for every body): OpenAPI 3.0 has no way to say what an object's keys may be.
[[operations]]
include-path = "/api/campaigns/{{slug}}/rating/vote/"
checks.positive_data_acceptance.enabled = false

# The same scores in a correction of the last rating (annotate/api/set_undo.py).
[[operations]]
include-path = "/api/campaigns/{{slug}}/rating/correct/"
checks.positive_data_acceptance.enabled = false

# Crowd settings: an https completion URL with a host, a Prolific study id of 24 hex characters,
# codes and return hosts of their own alphabets: the model's rules, which the schema states only
# as strings.
[[operations]]
include-path = "/api/campaigns/{{slug}}/crowd/update/"
checks.positive_data_acceptance.enabled = false

# An invitation CSV is read line by line (a header of name and email, a valid address a line):
# rules of the text inside the one string the schema describes.
[[operations]]
include-path = "/api/campaigns/{{slug}}/invitations/csv/"
checks.positive_data_acceptance.enabled = false

# A campaign's settings have rules across fields that the schema states field by field (the
# "most informative first" ordering for pairwise campaigns only, a step pattern's content).
[[operations]]
include-path = "/api/campaigns/create/"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/api/campaigns/{{slug}}/update/"
checks.positive_data_acceptance.enabled = false

# A webhook's URL is an http or https URL without credentials, at most ten per campaign and each
# once: rules of the string's content and of the campaign's other rows.
[[operations]]
include-path = "/api/campaigns/{{slug}}/webhooks/"
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
pairs = {{ values = [{pair_id}] }}
webhooks = {{ values = [{webhook_id}] }}

[parameters]
"path.slug" = {{ dictionary = "slugs", probability = 0.5 }}
"path.id" = {{ dictionary = "exports", probability = 0.5 }}
"path.generator_id" = {{ dictionary = "generators", probability = 0.5 }}
"path.pair_id" = {{ dictionary = "pairs", probability = 0.5 }}
"path.webhook_id" = {{ dictionary = "webhooks", probability = 0.5 }}
"""

RUNS = {
    "admin": {
        "config": ADMIN_CONFIG,
        "fail_on": ["missing_auth", *_ALWAYS_FAIL_ON],  # the admin's token works everywhere
        "args": ["--phases", "examples,coverage,fuzzing", "--max-examples", "2"],
        # The seeded objects must be found: only the spare generator may answer nothing but 404,
        # once its first DELETE has removed it.
        "may_only_404": {
            "DELETE /api/campaigns/{slug}/generators/{generator_id}/",
            "DELETE /api/campaigns/{slug}/webhooks/{webhook_id}/",
        },
    },
    "rater": {
        "config": RATER_CONFIG,
        "fail_on": _ALWAYS_FAIL_ON,
        "args": ["--phases", "examples,fuzzing", "--max-examples", "4"],
        "may_only_404": None,  # any operation: half the rater's requests are meant to be 404s
    },
}


@pytest.fixture
def seeded(transactional_db, redis_app, settings, tmp_path):
    """A campaign with prompts, pairs, votes and a finished export; a generator with nothing
    generated yet (deletable); an admin, and a rater enrolled in this campaign but not the other."""
    settings.EXPORT_ROOT = str(tmp_path / "exports")
    settings.WEBHOOK_SECRET = "whsec-tests-only"
    campaign = factories.CampaignFactory(title="Fuzzed", slug="fuzzed")
    campaign_with_votes(campaign)
    other = factories.CampaignFactory(title="Other", slug="other")
    generator = factories.GeneratorFactory(campaign=campaign, name="spare", model="spare-model")
    export = Export.objects.create(campaign=campaign, format="trl-kto")
    export_run(export_id=export.id)
    export.refresh_from_db()
    assert export.status == Export.Status.DONE, export.error
    finished_import = PromptImport.objects.create(
        campaign=campaign, file_name="big.jsonl", status="done", lines_read=10, created=10
    )
    admin = factories.UserFactory(username="fuzz-admin", role=User.Role.ADMIN)
    rater = factories.UserFactory(username="fuzz-rater", role=User.Role.RATER)
    factories.EnrollmentFactory(campaign=campaign, rater=rater)
    return {
        "slug": campaign.slug,
        "other_slug": other.slug,
        "export_id": export.id,
        "generator_id": generator.id,
        "import_id": finished_import.id,
        "pair_id": campaign.pairs.order_by("id").first().id,
        "webhook_id": Webhook.objects.create(
            campaign=campaign, url="https://hooks.example.org/a", events=["export.done"]
        ).id,
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


def _problem(persona: str, process: subprocess.Popen, folder: Path) -> tuple[str, str | None]:
    """The run's figures, and what is wrong with it (None if nothing)."""
    output = (folder / "output.txt").read_text()
    if not (folder / "report.json").exists():
        return f"{persona}: no report", output
    report = json.loads((folder / "report.json").read_text())
    operations, cases = report.get("operations"), report.get("test_cases")
    if not operations or not cases:  # the run stopped before testing (e.g. the schema did not load)
        return f"{persona}: nothing tested", output
    summary = (
        f"{persona}: {operations['tested']} operations, {cases['generated']} test cases, "
        f"{len(report['failures'])} failures, {len(report['errors'])} errors, "
        f"{report['running_time']:.1f} s"
    )
    allowed = RUNS[persona]["may_only_404"]
    missing = set() if allowed is None else set(report["warnings"]["missing_test_data"]) - allowed
    if process.returncode or report["failures"] or report["errors"] or missing:
        return summary, f"--- {persona} (only 404s from: {sorted(missing)})\n{output}"
    if operations["tested"] != operations["total"] or cases["generated"] < 3 * operations["total"]:
        return summary, f"--- {persona} tested too little\n{output}"
    return summary, None


@pytest.mark.timeout(700)  # two runs of every operation; slower beside other tests (xdist)
def test_the_api_conforms_to_its_schema_as_an_admin_and_as_a_rater(
    live_server, seeded, no_nagle, tmp_path
):
    url = live_server.url.replace("localhost", "127.0.0.1")  # no IPv6 attempt per connection
    runs = {p: _start(p, url=url, seeded=seeded, folder=tmp_path / p) for p in RUNS}
    try:
        for process in runs.values():
            process.wait(timeout=600)
    finally:
        for process in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    results = [_problem(p, process, tmp_path / p) for p, process in runs.items()]
    summaries = [summary for summary, _ in results]
    print("\n".join(summaries))
    problems = [problem for _, problem in results if problem]
    assert not problems, "\n".join([*summaries, *problems])[-30000:]
