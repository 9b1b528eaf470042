"""OpenAPI description of the client-key scheme, so Swagger UI can send ``X-Proxy-Key``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from access.keys import KEY_HEADER


class ClientKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access.authentication.ClientKeyAuthentication"
    name = "ClientKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": KEY_HEADER}
