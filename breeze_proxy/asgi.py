"""ASGI entry point (unused by the default gunicorn deployment, kept for ASGI servers)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breeze_proxy.settings")

application = get_asgi_application()
