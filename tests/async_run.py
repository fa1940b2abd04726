"""``asyncio.run`` for tests that may share a thread with Playwright's sync API (pytest-xdist hands
a worker browser tests and others in any order; Playwright leaves an event loop running in the
thread, where ``asyncio.run`` refuses): the coroutine runs in a thread of its own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


def run_async(coroutine):
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # the usual case: no loop in this thread
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
