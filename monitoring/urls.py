"""Monitoring routes. ``urlpatterns`` (the metrics API) is mounted under /breeze/ and
/api/breeze/ like every app's; ``root_urlpatterns`` (``/metrics``) at the root, and
``admin_urlpatterns`` (the staff dashboard) before the Django admin, when the admin is served."""

from django.contrib import admin
from django.urls import path

from monitoring import dashboard, views

urlpatterns = [
    path("metrics", views.FleetMetricsView.as_view(), name="fleet-metrics"),
]

root_urlpatterns = [
    path("metrics", views.prometheus_metrics, name="metrics"),
]

admin_urlpatterns = [
    path(
        "admin/dashboard/",
        admin.site.admin_view(dashboard.staff_dashboard),
        name="staff-dashboard",
    ),
]
