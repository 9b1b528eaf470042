"""Session administration routes; mounted under both /breeze/ and /api/breeze/."""

from django.urls import path

from sessions_admin.views import ApiSessionViewSet

urlpatterns = [
    path(
        "admin/api-session",
        ApiSessionViewSet.as_view({"post": "create", "get": "retrieve", "delete": "destroy"}),
        name="admin-api-session",
    ),
    path("admin/session", ApiSessionViewSet.as_view({"get": "retrieve"}), name="admin-session"),
]
