"""OpenAPI description of the admin-key scheme, so Swagger UI can send the header."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from sessions_admin.authentication import ADMIN_KEY_HEADER


class AdminKeyScheme(OpenApiAuthenticationExtension):
    target_class = "sessions_admin.authentication.AdminKeyAuthentication"
    name = "AdminKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": ADMIN_KEY_HEADER}
