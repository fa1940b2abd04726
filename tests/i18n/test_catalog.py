"""Every string marked for translation has its Korean: ``makemessages -l ko`` (the same command
the README gives) run over a copy of the project, against the committed locale/ko django.po,
leaves no msgid without a translation and none fuzzy (a guess msgmerge made from a similar one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.i18n.po import entries

ROOT = Path(__file__).resolve().parents[2]
CATALOG = Path("locale/ko/LC_MESSAGES/django.po")
# The README's command (section "Languages"), minus the language.
MAKEMESSAGES = [
    "makemessages", "--no-location", "--ignore", ".venv", "--ignore", "data/*",
    "--ignore", "tests/*", "--ignore", "bench/*",
]  # fmt: skip


def _extract(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    for name in ("annotate", "project", "templates", "static", "locale"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", copy / "manage.py")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        SECRET_KEY="makemessages-only",
        DATA_DIR=str(tmp_path / "data"),
    )
    subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES, "-l", "ko"],
        cwd=copy, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return copy / CATALOG


def test_every_extracted_string_has_a_korean_translation(tmp_path):
    extracted = entries(_extract(tmp_path).read_text(encoding="utf-8"))
    assert len(extracted) > 100  # the extraction found the project's strings
    live = [e for e in extracted if not e.obsolete]
    untranslated = [str(e) for e in live if not e.translated]
    assert untranslated == [], (
        f"{len(untranslated)} strings have no Korean in {CATALOG} (or only a fuzzy guess): "
        f"run the README's makemessages and translate them: {untranslated[:20]}"
    )


def test_the_committed_catalog_has_nothing_fuzzy_or_stale(tmp_path):
    committed = entries((ROOT / CATALOG).read_text(encoding="utf-8"))
    assert [str(e) for e in committed if "fuzzy" in e.flags] == []
    assert [str(e) for e in committed if not e.translated and not e.obsolete] == []
    # Every committed entry is still used: makemessages over the copy keeps no obsolete one.
    fresh = {(e.msgctxt, e.msgid) for e in entries(_extract(tmp_path).read_text(encoding="utf-8"))
             if not e.obsolete}  # fmt: skip
    stale = [str(e) for e in committed if (e.msgctxt, e.msgid) not in fresh]
    assert stale == [], f"no longer in the code (run makemessages): {stale[:20]}"
