"""URL wiring. Every /breeze/ path is also served under /api/breeze/ (the deployed frontend
uses the latter); each app owns its routes."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from breeze_proxy import views
from monitoring.urls import admin_urlpatterns, root_urlpatterns

handler400 = "breeze_proxy.errors.json_bad_request"
handler403 = "breeze_proxy.errors.json_permission_denied"
handler404 = "breeze_proxy.errors.json_not_found"
handler500 = "breeze_proxy.errors.json_server_error"

_BREEZE_APPS = ["market.urls", "instruments.urls", "sessions_admin.urls", "monitoring.urls"]

urlpatterns = [
    path("", views.index, name="index"),
    *[path("breeze/", include(urls)) for urls in _BREEZE_APPS],
    *[
        path(
            "api/breeze/",
            include((urls, urls.split(".")[0]), namespace=f"api-{urls.split('.')[0]}"),
        )
        for urls in _BREEZE_APPS
    ],
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    *root_urlpatterns,
]
if settings.BREEZE_ADMIN_SITE_ENABLED:  # off on a public service; staff use a private one
    urlpatterns += [*admin_urlpatterns, path("admin/", admin.site.urls)]
