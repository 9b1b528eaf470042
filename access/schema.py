"""OpenAPI descriptions of the proxy's two key schemes, so Swagger UI can send the headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from access.admin_key import ADMIN_KEY_HEADER
from access.keys import KEY_HEADER


class ClientKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access.authentication.ClientKeyAuthentication"
    name = "ClientKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": KEY_HEADER}


class AdminKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access.admin_key.AdminKeyAuthentication"
    name = "AdminKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": ADMIN_KEY_HEADER}
