from django.apps import AppConfig


class SessionsAdminConfig(AppConfig):
    name = "sessions_admin"
    verbose_name = "Breeze session"

    def ready(self) -> None:
        from sessions_admin import schema  # noqa: F401 - registers the OpenAPI auth scheme
