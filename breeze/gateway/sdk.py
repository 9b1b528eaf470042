"""The one place breeze-connect is imported, with each of its hazards neutralised.

breeze-connect 1.0.69 does, at import time and after (BREEZE_API.md §1 and §8):

1. reads a top-level module named ``config`` for its URLs: we load the SDK's own ``config.py``
   under that name first and point its URLs at our settings;
2. downloads SecurityMaster.zip with no timeout: the download is answered from memory with an
   empty archive, and later downloads (``generate_session``) are refused outright;
3. creates ``./logs/`` in the working directory and attaches unrotated DEBUG file handlers that
   would write every quote to disk: both are suppressed during the import;
4. disables IPv6 for the whole process: the flag is restored right after the import;
5. imports pandas eagerly (tens of MB per worker) for one helper we never call: pandas is
   bound lazily and only loaded if that helper ever runs;
6. sends every call through module-level ``requests`` without a timeout or connection reuse:
   the module's ``requests`` is replaced by :class:`~breeze.gateway.transport.PooledTransport`.

Each neutralisation is pinned by a test in ``tests/gateway/test_sdk_hazards.py`` so that an SDK
upgrade that changes one of them fails loudly instead of quietly hanging production.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import logging
import os
import sys
import threading
import types
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

import urllib3.util.connection as urllib3_connection
from django.conf import settings

from breeze.gateway.transport import PooledTransport

if TYPE_CHECKING:  # the real import happens in _import_neutralised, under guards
    import breeze_connect  # noqa: F401 - declares this module as breeze_connect's only importer

SDK_PACKAGE = "breeze_connect"
SDK_VERSION = "1.0.69"

_lock = threading.Lock()
_loaded: LoadedSdk | None = None


class SecurityMasterDisabled(RuntimeError):
    """The SDK tried to download the instrument master; the proxy never needs it."""


class LoadedSdk:
    """The imported SDK module, its ``config`` module and the transport it was given."""

    def __init__(
        self, module: types.ModuleType, config: types.ModuleType, transport: PooledTransport
    ):
        self.module = module
        self.config = config
        self.transport = transport

    def point_at(self, *, api_url: str, api_v2_url: str, security_master_url: str) -> None:
        """Point the SDK's URLs at ``settings`` (cheap; called before each client is built)."""
        self.config.API_URL = api_url
        self.config.BREEZE_NEW_URL = api_v2_url
        self.config.SECURITY_MASTER_URL = security_master_url

    @property
    def BreezeConnect(self) -> type:
        return self.module.BreezeConnect

    @property
    def ApificationBreeze(self) -> type:
        return self.module.ApificationBreeze


def load_sdk() -> LoadedSdk:
    """Import breeze-connect once per process, safely. Thread-safe and idempotent."""
    global _loaded  # a per-process module handle, not shared state
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _import_neutralised()
    _loaded.transport.timeout_s = float(settings.BREEZE_TIMEOUT_S)
    _loaded.point_at(
        api_url=settings.BREEZE_API_URL,
        api_v2_url=settings.BREEZE_API_V2_URL,
        security_master_url=settings.BREEZE_SECURITY_MASTER_URL,
    )
    return _loaded


def _sdk_dir() -> str:
    spec = importlib.util.find_spec(SDK_PACKAGE)  # finds the package without executing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("breeze-connect is not installed")
    return next(iter(spec.submodule_search_locations))


def _load_sdk_config(sdk_dir: str) -> types.ModuleType:
    existing = sys.modules.get("config")
    if existing is not None and getattr(existing, "__file__", "") == os.path.join(
        sdk_dir, "config.py"
    ):
        return existing
    if existing is not None:
        raise ImportError(
            "A top-level module named 'config' is already imported; breeze-connect would read "
            "it instead of its own settings (BREEZE_API.md §1.3). Rename that module."
        )
    spec = importlib.util.spec_from_file_location("config", os.path.join(sdk_dir, "config.py"))
    if spec is None or spec.loader is None:
        raise ImportError("breeze-connect has no config.py")
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    sys.modules["config"] = config
    return config


def _empty_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


class _LazyModule(types.ModuleType):
    """A stand-in that imports the real module on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_real"] = None

    def __getattr__(self, attr: str) -> Any:
        real = self.__dict__["_real"]
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_real"] = real
        return getattr(real, attr)


@contextmanager
def _import_guards(master_url: str) -> Iterator[None]:
    """Patches that last only for the import; each one delegates for anything else."""
    import urllib.request

    real_urlopen = urllib.request.urlopen
    real_makedirs = os.makedirs
    real_file_handler = logging.FileHandler
    empty_zip = _empty_zip_bytes()

    def urlopen(url: Any, *args: Any, **kwargs: Any) -> Any:
        if url == master_url:
            return io.BytesIO(empty_zip)
        return real_urlopen(url, *args, **kwargs)

    def makedirs(name: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(name) == "logs":
            return None
        return real_makedirs(name, *args, **kwargs)

    def file_handler(filename: Any, *args: Any, **kwargs: Any) -> logging.Handler:
        if os.fspath(filename).startswith("logs/"):
            return logging.NullHandler()
        return real_file_handler(filename, *args, **kwargs)

    lazy_pandas = None
    if "pandas" not in sys.modules:
        lazy_pandas = _LazyModule("pandas")
        sys.modules["pandas"] = lazy_pandas
    ipv6 = urllib3_connection.HAS_IPV6
    try:
        with (
            mock.patch("urllib.request.urlopen", urlopen),
            mock.patch("os.makedirs", makedirs),
            mock.patch("logging.FileHandler", file_handler),
        ):
            yield
    finally:
        urllib3_connection.HAS_IPV6 = ipv6
        if lazy_pandas is not None and sys.modules.get("pandas") is lazy_pandas:
            del sys.modules["pandas"]


def _refuse_download(*args: Any, **kwargs: Any) -> Any:
    raise SecurityMasterDisabled("the proxy does not download SecurityMaster.zip")


def _import_neutralised() -> LoadedSdk:
    config = _load_sdk_config(_sdk_dir())
    config.SECURITY_MASTER_URL = settings.BREEZE_SECURITY_MASTER_URL
    with _import_guards(config.SECURITY_MASTER_URL):
        module = importlib.import_module(f"{SDK_PACKAGE}.breeze_connect")
    for name in ("APILogger", "WebsocketLogger"):
        sdk_logger = logging.getLogger(name)
        for handler in list(sdk_logger.handlers):
            sdk_logger.removeHandler(handler)
            handler.close()
        sdk_logger.propagate = False  # it logs whole responses at DEBUG
        sdk_logger.setLevel(logging.CRITICAL)
    transport = PooledTransport(float(settings.BREEZE_TIMEOUT_S))
    module.requests = transport
    module.urlopen = _refuse_download
    return LoadedSdk(module, config, transport)
