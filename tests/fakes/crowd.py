"""Crowd-platform test helpers: a campaign ready for participants, Prolific-shaped ids, and a
capture server on 127.0.0.1 that stands in for Prolific's completion page, MTurk's externalSubmit
and Prolific's submissions API (the same paths and shapes as the real ones)."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from annotate.markdown import render_markdown
from annotate.models import CrowdSettings, Pair, TrainingUnit
from tests import factories


def prolific_id() -> str:
    return secrets.token_hex(12)  # 24 hex characters, as Prolific's ids


def crowd_campaign(
    *,
    slug: str = "study",
    pairs: int = 6,
    quota: int = 3,
    gold: int = 0,
    training: int = 0,
    attention: float = 0.0,
    attention_min: int = 2,
    completion_url: str = "https://app.prolific.com/submissions/complete?cc=",
    **crowd_values,
):
    """An open campaign with ``pairs`` regular pairs, ``gold`` gold pairs (answer "a") in the pool,
    ``training`` training units (gold "a", out of the pool) and enabled crowd settings."""
    campaign = factories.CampaignFactory(slug=slug, title=f"Study {slug}")
    regular = [factories.PairFactory(campaign=campaign) for _ in range(pairs)]
    golds = [factories.PairFactory(campaign=campaign, gold_answer="a") for _ in range(gold)]
    units = []
    for n in range(training):
        pair = factories.PairFactory(campaign=campaign, gold_answer="a", needed=0)
        units.append(
            TrainingUnit.objects.create(
                campaign=campaign, pair=pair, explanation=f"Response A answers the question ({n})."
            )
        )
    _crowd_settings(
        campaign,
        quota=quota,
        training=training,
        attention=attention,
        attention_min=attention_min,
        completion_url=completion_url,
        **crowd_values,
    )
    return campaign, regular, golds, units


def crowd_ranking_campaign(
    *,
    slug: str = "study",
    sets: int = 4,
    k: int = 3,
    quota: int = 3,
    gold: int = 0,
    attention: float = 0.0,
    attention_min: int = 2,
    completion_url: str = "https://app.prolific.com/submissions/complete?cc=",
    **crowd_values,
):
    """An open ranking campaign (protocol "ranking", sets of ``k``) with ``sets`` regular sets,
    ``gold`` gold sets (gold: the set's first member best, the rest tied) and enabled crowd
    settings. Returns (campaign, regular sets, gold sets)."""
    campaign = factories.CampaignFactory(
        slug=slug, title=f"Study {slug}", protocol="ranking", ranking_k=k
    )
    regular = [factories.ranking_set(campaign=campaign, k=k) for _ in range(sets)]
    golds = []
    for _ in range(gold):
        unit = factories.ranking_set(campaign=campaign, k=k)
        ids = unit.member_ids()
        unit.gold_ranking = [[ids[0]], ids[1:]]
        unit.save(update_fields=["gold_ranking"])
        golds.append(unit)
    _crowd_settings(
        campaign,
        quota=quota,
        training=0,
        attention=attention,
        attention_min=attention_min,
        completion_url=completion_url,
        **crowd_values,
    )
    return campaign, regular, golds


def _crowd_settings(
    campaign, *, quota, training, attention, attention_min, completion_url, **crowd_values
) -> CrowdSettings:
    values = {
        "enabled": True,
        "completion_code": "C0MPLETE",
        "screened_out_code": "SCREENED",
        "failed_attention_code": "ATTENTION",
        "returned_code": "RETURNED",
        "completion_url": completion_url,
        "units_per_participant": quota,
        "attention_min_accuracy": attention,
        "attention_min_answered": attention_min,
        "consent": "You agree that your **answers** are kept.",
        "training_units": training,
        "training_pass": 0.5,
        **crowd_values,
    }
    crowd = CrowdSettings(campaign=campaign, **values)
    crowd.full_clean()
    crowd.consent_html = render_markdown(crowd.consent)
    crowd.save()
    return crowd


def gold_pairs_first(campaign) -> None:
    """Serve gold pairs whenever there are some (gold_rate 1: the preferred pool is gold)."""
    campaign.gold_rate = 1.0
    campaign.save(update_fields=["gold_rate"])


def wrong_for(pair: Pair) -> str:
    return "b" if pair.gold_answer == "a" else "a"


class CaptureServer:
    """Records every request: GET /submissions/complete?cc=… (Prolific's completion page),
    POST /mturk/externalSubmit (MTurk), GET /api/v1/studies/<id>/submissions/ (Prolific's API,
    answering ``submissions`` set by the test, and checking the ``Token`` header)."""

    def __init__(self, token: str = "") -> None:
        self.requests: list[dict] = []
        self.submissions: dict[str, list[dict]] = {}
        self.token = token
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self, body: bytes = b"") -> dict:
                parts = urlsplit(self.path)
                entry = {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "form": parse_qs(body.decode()) if body else {},
                    "headers": dict(self.headers),
                }
                server.requests.append(entry)
                return entry

            def _send(self, status: int, body: bytes, ctype: str = "text/html") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                entry = self._record()
                path = entry["path"]
                if path.startswith("/api/v1/studies/") and path.endswith("/submissions/"):
                    if (
                        server.token
                        and self.headers.get("Authorization") != f"Token {server.token}"
                    ):
                        self._send(401, b'{"error": "unauthorised"}', "application/json")
                        return
                    study = path.split("/")[4]
                    rows = server.submissions.get(study, [])
                    body = json.dumps({"results": rows, "_links": {"next": {"href": None}}})
                    self._send(200, body.encode(), "application/json")
                    return
                self._send(200, b"<!doctype html><title>captured</title><p>captured</p>")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._record(self.rfile.read(length))
                self._send(200, b"<!doctype html><title>submitted</title><p>submitted</p>")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> CaptureServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
