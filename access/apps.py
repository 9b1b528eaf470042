from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access and audit"

    def ready(self) -> None:
        from access import schema, signals  # noqa: F401 - OpenAPI scheme, cache invalidation
