"""The HTTP transport the SDK is given in place of the ``requests`` module.

breeze-connect calls ``requests.get(...)`` at module level for every request: no timeout
(a silent upstream hangs a worker thread forever) and a new TCP+TLS connection each time.
The gateway swaps the SDK module's ``requests`` name for a :class:`PooledTransport`, which
sends the same calls through one keep-alive ``requests.Session`` per thread with a total
deadline. It also remembers the last raw response on the thread, because the SDK collapses
several distinct upstream errors into one generic exception message.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Timeout


class PooledTransport:
    """Quacks like the parts of the ``requests`` module the SDK uses."""

    # The SDK references ``requests.packages`` at import; keep the attribute available.
    packages = requests.packages
    exceptions = requests.exceptions

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._local = threading.local()

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or netrc surprises from the environment
            # One connection per upstream host per thread; never retried behind our back.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=1, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    @property
    def last_response(self) -> requests.Response | None:
        return getattr(self._local, "last_response", None)

    def clear_last_response(self) -> None:
        self._local.last_response = None

    def _timeout(self) -> Timeout:
        # ``total`` bounds connect + read together, so a call ends within the deadline even
        # when the connect phase was slow.
        return Timeout(total=self.timeout_s, connect=min(self.timeout_s, 5.0))

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = self._timeout()
        self._local.last_response = None
        response = self.session().request(method, url, **kwargs)
        self._local.last_response = response
        return response

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)
