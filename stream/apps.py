from django.apps import AppConfig


class StreamConfig(AppConfig):
    name = "stream"
    verbose_name = "Live stream"

    def ready(self) -> None:
        from common import health
        from stream.selectors import stream_status

        health.register("stream", stream_status)
