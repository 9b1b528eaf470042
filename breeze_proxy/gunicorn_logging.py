"""gunicorn's own log lines as JSON, and no gunicorn access log.

The proxy writes one access line per request itself (with the request id), so gunicorn's access
log would be a second, id-less line. Configuring gunicorn through ``logconfig_dict`` instead
would also make it build every access line's fields on every request even with no handler to
write them (about 8% of a cached request's CPU), which this logger class avoids.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from common.json_logging import JsonFormatter


class JsonGunicornLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    @property
    def access_log_enabled(self) -> bool:
        return False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None
