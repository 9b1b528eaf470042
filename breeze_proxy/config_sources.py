"""Where credentials come from: the environment first, then Google Secret Manager.

Secrets are read once per process and cached, because Secret Manager calls cost money and
latency and the values do not change while an instance lives (Cloud Run restarts instances
to pick up a new secret version). The client library is imported only when a secret is
actually missing from the environment and ``GCP_PROJECT_ID`` is set, so a local run never
loads it and never touches the network.
"""

from __future__ import annotations

import functools
import logging
import os

logger = logging.getLogger(__name__)


class SecretUnavailable(RuntimeError):
    """Secret Manager was asked for a secret and could not provide it."""


def secret_value(name: str, default: str = "") -> str:
    """Return the secret called ``name`` from the environment or Secret Manager.

    An empty environment value counts as unset, so a deployment can blank a variable to fall
    back to Secret Manager. Only the secret's name is ever logged, never its value.
    """
    value = os.environ.get(name, "")
    if value:
        return value
    project = os.environ.get("GCP_PROJECT_ID", "")
    if not project:
        return default
    fetched = _secret_manager_value(project, name)
    return fetched if fetched is not None else default


@functools.cache
def _secret_manager_value(project: str, name: str) -> str | None:
    try:
        from google.cloud import secretmanager
    except ImportError as exc:  # pragma: no cover - the package is a pinned dependency
        raise SecretUnavailable("google-cloud-secret-manager is not installed") from exc
    client = secretmanager.SecretManagerServiceClient()
    path = f"projects/{project}/secrets/{name}/versions/latest"
    try:
        response = client.access_secret_version(request={"name": path}, timeout=10)
    except Exception as exc:
        # NotFound means the deployment chose not to define it: fall back to the default.
        if exc.__class__.__name__ == "NotFound":
            logger.info("secret not defined in Secret Manager", extra={"secret_name": name})
            return None
        raise SecretUnavailable(f"could not read secret {name!r} from Secret Manager") from exc
    logger.info("secret loaded from Secret Manager", extra={"secret_name": name})
    return response.payload.data.decode("utf-8")
