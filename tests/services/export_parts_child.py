"""An export in parts whose second part stops half-way and waits (run by test_export_parts.py).

    python export_parts_child.py <campaign-slug> <out-folder>

The second part prints "paused <its pid>" once it reads inside the snapshot, then sleeps; the
test kills this process (the lead) with -9 and looks for the part.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from annotate.exports.options import parse_options  # noqa: E402
from annotate.models import Campaign  # noqa: E402
from annotate.selectors import exports as export_reads  # noqa: E402
from annotate.services.exports import export_build  # noqa: E402


def main(slug: str, out: str) -> None:
    settings.EXPORT_PROCESSES, settings.EXPORT_PARALLEL_MIN_PAIRS = 2, 1
    real = export_reads.export_vote_rows

    def rows(**kwargs):
        prompts = kwargs.get("prompts")
        for n, row in enumerate(real(**kwargs)):
            if n == 3 and prompts is not None and prompts[0] is not None:  # the second part
                print("paused", os.getpid(), flush=True)
                time.sleep(600)
            yield row

    export_reads.export_vote_rows = rows
    export_build(
        campaign=Campaign.objects.get(slug=slug), options=parse_options(None, {}), out_dir=out
    )
    sys.exit("not killed")


if __name__ == "__main__":
    main(*sys.argv[1:])
