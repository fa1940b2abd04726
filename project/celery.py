from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("annotate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_database_connections(sender=None, **kwargs) -> None:
    """Around each task, what Django does around each request: drop this thread's connection only
    if it is broken or older than CONN_MAX_AGE. (Celery's own fixup, with CELERY_DB_REUSE_MAX set in
    settings, no longer closes it after every task.) Eager tasks run inside the caller's
    transaction, so they are left alone, as the fixup leaves them."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_init.connect
def import_task_modules(**kwargs) -> None:
    """Import what the generation tasks import in their bodies before the worker takes work.

    The web process never needs the provider SDKs, so the tasks import them on use; but a worker
    would then pay for it on its first tasks: ``import anthropic`` alone takes about 2 s here, during
    which every thread of a fresh worker waits on the import lock with its row claimed. (The prefork
    pool forks after this, so its children start with the modules loaded.)"""
    import annotate.providers.anthropic_api  # noqa: F401
    import annotate.providers.openai_compat  # noqa: F401
    import annotate.services.generation  # noqa: F401


@signals.worker_init.connect
def serve_work_in_a_thread_pool(sender=None, **kwargs) -> None:
    """Threads and solo pools claim in this process: it beats and sweeps (annotate/work/workers.py).
    A prefork pool's children claim instead, each serving on its own (below); the parent does not:
    a thread with a database connection must not be running when it forks."""
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool as PreforkPool

    pool = get_implementation(getattr(sender, "pool_cls", None) or "prefork")
    if not issubclass(pool, PreforkPool):
        from annotate.work import workers

        workers.serve()


@signals.worker_process_init.connect
def serve_work_in_a_child(**kwargs) -> None:
    from annotate.work import workers

    workers.serve()


@signals.worker_ready.connect
@signals.worker_process_init.connect
def freeze_what_start_made(**kwargs) -> None:
    """The objects made while the worker started (Django, the SDKs, the tasks) are never walked by
    the garbage collector again: a full collection walked every one of them, 100-300 ms each time
    in a worker streaming a hundred live replies, which all waited for it (gunicorn.conf.py does
    the same for the web processes)."""
    import gc

    gc.freeze()


@signals.worker_shutdown.connect
@signals.worker_process_shutdown.connect
def stop_serving_work(**kwargs) -> None:
    """A warm shutdown has finished its tasks: forget this process, so nothing waits for it."""
    from annotate.work import workers

    workers.stop_serving()


def ensure_broker_folders() -> None:
    """kombu's filesystem transport needs its folders before a worker or producer starts."""
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)
