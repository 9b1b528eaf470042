"""Market and session routes; mounted under both /breeze/ and /api/breeze/."""

from django.urls import path

from market import views
from sessions_admin.views import ApiSessionViewSet

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("quotes", views.QuoteViewSet.as_view({"post": "create"}), name="quotes"),
    path(
        "quotes/batch",
        views.BatchQuoteViewSet.as_view({"post": "create"}),
        name="quotes-batch",
    ),
    path("depth", views.DepthViewSet.as_view({"post": "create"}), name="depth"),
    path("historical", views.HistoricalViewSet.as_view({"post": "create"}), name="historical"),
    path("option-chain", views.OptionChainViewSet.as_view({"post": "create"}), name="option-chain"),
    path(
        "admin/api-session",
        ApiSessionViewSet.as_view({"post": "create", "get": "retrieve", "delete": "destroy"}),
        name="admin-api-session",
    ),
    path("admin/session", ApiSessionViewSet.as_view({"get": "retrieve"}), name="admin-session"),
]
