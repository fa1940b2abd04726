from django.apps import AppConfig


class AnnotateConfig(AppConfig):
    name = "annotate"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from annotate.endpoints import check_endpoints
        from project.celery import ensure_broker_folders

        ensure_broker_folders()
        checks.register(check_endpoints)
