"""Session administration routes; mounted under both /breeze/ and /api/breeze/, unless
``BREEZE_ADMIN_API_ENABLED`` is off (a public service whose staff use a private one)."""

from django.conf import settings
from django.urls import path

from sessions_admin.views import ApiSessionViewSet

_ROUTES = [
    path(
        "admin/api-session",
        ApiSessionViewSet.as_view({"post": "create", "get": "retrieve", "delete": "destroy"}),
        name="admin-api-session",
    ),
    path("admin/session", ApiSessionViewSet.as_view({"get": "retrieve"}), name="admin-session"),
]

urlpatterns = _ROUTES if settings.BREEZE_ADMIN_API_ENABLED else []
