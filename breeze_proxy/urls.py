"""URL wiring. Every market path is served under /breeze/ and /api/breeze/ (the deployed
frontend uses the latter)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from breeze_proxy import views

handler400 = "breeze_proxy.errors.json_bad_request"
handler403 = "breeze_proxy.errors.json_permission_denied"
handler404 = "breeze_proxy.errors.json_not_found"
handler500 = "breeze_proxy.errors.json_server_error"

urlpatterns = [
    path("", views.index, name="index"),
    path("breeze/", include("market.urls")),
    path("api/breeze/", include(("market.urls", "market"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
]
