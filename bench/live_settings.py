"""bench/live.py's web processes: the benchmarks' settings plus one route of their own, a bare SSE
endpoint over the relay (bench/live_urls.py), until live pages are there to measure through."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.live_urls"
