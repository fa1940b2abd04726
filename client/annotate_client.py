"""A small Python client for annotate's REST API, for researchers who script their campaigns.

One file, needing ``requests`` only (``tqdm`` for progress bars and ``datasets`` for
:meth:`Client.load` when you have them). Copy it next to your notebook, or put ``client/`` on your
``PYTHONPATH``::

    from annotate_client import Client

    api = Client("http://127.0.0.1:8000", token="…")  # a token from /backoffice/ (Auth Token)
    api.campaign_create(title="Helpfulness", guidelines="Pick the more helpful answer.")
    api.prompts_import("helpfulness", "prompts.jsonl")
    api.generator_add("helpfulness", provider="anthropic", model="claude-sonnet-4-6", name="sonnet")
    api.generation_start("helpfulness")
    api.generation_wait("helpfulness")            # a progress bar until every candidate is done
    export = api.export("helpfulness", "trl-dpo-conversational", test_fraction=0.1)
    folder = api.download(export, "data/helpfulness")
    ds = api.load(folder)                         # datasets.DatasetDict with train and test

Every method returns the API's JSON body as a dict (the OpenAPI schema at ``/api/schema/`` is the
reference for its fields). An answer other than 2xx raises :class:`ApiError` with the status and the
body, which names each bad field.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["ApiError", "Client"]


class ApiError(Exception):
    """The API refused a request: ``status`` (HTTP) and ``body`` (its JSON, or text)."""

    def __init__(self, status: int, body: Any, *, method: str, path: str):
        self.status, self.body = status, body
        super().__init__(f"{method} {path} answered {status}: {body}")


class Client:
    def __init__(self, base_url: str, *, token: str, timeout: float = 30.0, poll: float = 1.0):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.poll = timeout, poll
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- campaigns -------------------------------------------------------------------------------

    def campaigns(self) -> list[dict]:
        return self._get("/api/campaigns/")

    def campaign(self, slug: str) -> dict:
        return self._get(f"/api/campaigns/{slug}/")

    def campaign_create(self, **fields: Any) -> dict:
        """Fields as in the schema's CampaignCreateInput (title, guidelines, scale, overlap, …)."""
        return self._post("/api/campaigns/create/", json=fields)

    def campaign_status(self, slug: str, action: str) -> dict:
        """``action``: open, pause or close."""
        return self._post(f"/api/campaigns/{slug}/status/", json={"action": action})

    def enroll(self, slug: str, *usernames: str) -> dict:
        return self._post(
            f"/api/campaigns/{slug}/enrollments/add/", json={"usernames": list(usernames)}
        )

    # -- prompts and candidates ----------------------------------------------------------------

    def prompts_import(
        self, slug: str, source: str | Path | list[dict], *, wait: bool = True
    ) -> dict:
        """Import prompts from a JSONL/CSV file or from a list of rows. A small import answers at
        once; a large file becomes a job, and by default this waits until it has finished. An
        import commits every row or none: a bad one raises ApiError whose body lists each line."""
        path = f"/api/campaigns/{slug}/prompts/import/"
        if isinstance(source, list):
            job = self._post(path, json={"rows": source})
        else:
            file = Path(source)
            with file.open("rb") as handle:
                job = self._post(path, files={"file": (file.name, handle)})
        if not wait or "id" not in job or job.get("status") in ("done", "failed"):
            return job  # a small import answers at once: created, skipped, errors, notes
        return self._wait(
            lambda: self._get(f"/api/campaigns/{slug}/prompts/imports/{job['id']}/"),
            done=lambda body: body["status"] in ("done", "failed"),
            what="prompt import",
        )

    def generator_add(self, slug: str, **fields: Any) -> dict:
        """provider, model, name, params, samples_per_prompt, … (the schema's GeneratorCreateInput)."""
        return self._post(f"/api/campaigns/{slug}/generators/", json=fields)

    def generation_start(self, slug: str, *, mode: str = "fast") -> dict:
        return self._post(f"/api/campaigns/{slug}/generation/start/", json={"mode": mode})

    def generation_progress(self, slug: str) -> dict:
        return self._get(f"/api/campaigns/{slug}/generation/")

    def generation_wait(
        self, slug: str, *, progress: bool = True, timeout: float | None = None
    ) -> dict:
        """Poll the campaign's generation until it has ended; a progress bar of candidates done."""
        return self._wait(
            lambda: self.generation_progress(slug),
            done=lambda body: body["status"] in ("done", "failed", "cancelled"),
            what="generation",
            bar=progress,
            count=lambda body: (body["done"] + body["failed"] + body["cancelled"], body["total"]),
            timeout=timeout,
        )

    # -- reading and settling pairs (researchers) --------------------------------------------------

    def units(self, slug: str, **filters: Any) -> Iterator[dict]:
        """Every pair the browse page's filters keep (``q="sql"``, ``contested="on"``, …; the
        page's query string as keywords), page after page, best match first with ``q``."""
        url: str | None = f"/api/campaigns/{slug}/units/"
        params: dict[str, Any] | None = {k: v for k, v in filters.items() if v not in (None, "")}
        while url:
            body = self._request("GET", url, params=params).json()
            yield from body["results"]
            following = urlsplit(body["next"]) if body["next"] else None
            # The next link carries the filters and the cursor; it is asked of this client's host.
            url = f"{following.path}?{following.query}" if following else None
            params = None

    def pair(self, slug: str, pair_id: int) -> dict:
        """One pair whole: prompt, both candidates with their generators, every vote with its
        rationale, the judge's verdicts in both orders, flags, and ``final`` (the adjudication)."""
        return self._get(f"/api/campaigns/{slug}/pairs/{pair_id}/")

    def adjudicate(
        self, slug: str, pair_id: int, choice: str, reason: str, *, strength: int | None = None
    ) -> dict:
        """Record the pair's final label (in the pair's own terms: a = candidate_a)."""
        body: dict[str, Any] = {"choice": choice, "reason": reason}
        if strength is not None:
            body["strength"] = strength
        return self._post(f"/api/campaigns/{slug}/pairs/{pair_id}/adjudicate/", json=body)

    # -- exports ---------------------------------------------------------------------------------

    def export(self, slug: str, format: str, *, wait: bool = True, **filters: Any) -> dict:
        """Start an export (filters as in the schema's ExportFilters); by default waits until it is
        done. An export its filters leave empty fails: ApiError is raised with the reason."""
        body = self._post(
            f"/api/campaigns/{slug}/exports/create/", json={"format": format, "filters": filters}
        )
        if not wait:
            return body
        body = self.export_wait(body)
        if body["status"] != "done":
            raise ApiError(409, body, method="GET", path=body["status_url"])
        return body

    def export_wait(self, export: dict | int, *, progress: bool = False) -> dict:
        export_id = export if isinstance(export, int) else export["id"]
        return self._wait(
            lambda: self._get(f"/api/exports/{export_id}/"),
            done=lambda body: body["status"] in ("done", "failed"),
            what="export",
            bar=progress,
        )

    def download(self, export: dict | int, folder: str | Path) -> Path:
        """Download a finished export and unpack it into ``folder`` (created). Returns the
        dataset's folder (the card README.md, data/ and SHA256SUMS) inside it."""
        export_id = export if isinstance(export, int) else export["id"]
        response = self._request("GET", f"/api/exports/{export_id}/download/", stream=False)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            for name in archive.namelist():
                target = (folder / name).resolve()
                if not target.is_relative_to(folder.resolve()):
                    raise ValueError(f"unsafe path in the export archive: {name!r}")
            archive.extractall(folder)
            tops = {name.split("/", 1)[0] for name in archive.namelist()}
        # The archive holds one folder named after the export: that folder is the dataset.
        return (
            folder / tops.pop()
            if len(tops) == 1 and (folder / next(iter(tops))).is_dir()
            else folder
        )

    @staticmethod
    def load(folder: str | Path):
        """The downloaded export as a ``datasets.DatasetDict`` (its card names the files)."""
        from datasets import load_dataset

        return load_dataset(str(folder))

    # -- plumbing --------------------------------------------------------------------------------

    def _get(self, path: str) -> Any:
        return self._request("GET", path).json()

    def _post(self, path: str, **kwargs: Any) -> Any:
        return self._request("POST", path, **kwargs).json()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        kwargs.pop("stream", None)
        response = self.session.request(method, self.base_url + path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text[:2000]
            raise ApiError(response.status_code, body, method=method, path=path)
        return response

    def _wait(self, fetch, *, done, what, bar=False, count=None, timeout=None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        progress = _bar(what) if bar else None
        try:
            while True:
                body = fetch()
                if progress is not None and count is not None:
                    finished, total = count(body)
                    progress.total = total
                    progress.update(finished - progress.n)
                if done(body):
                    return body
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"the {what} did not end within {timeout} s: {body}")
                time.sleep(self.poll)
        finally:
            if progress is not None:
                progress.close()


def _bar(what: str):
    try:
        from tqdm import tqdm
    except ImportError:  # no progress bar without tqdm
        return None
    return tqdm(desc=what, unit="item")
