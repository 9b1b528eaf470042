"""OpenAPI details shared by every app: the error envelope per status, strict request bodies,
and the request schema of a :class:`~common.serializers.StrictSerializer` exactly as it
validates.

A request body's schema is what schemathesis (and any generated client) takes for the truth:
a body it says is valid must be accepted, one it says is invalid must be refused. So the
fields that validate text themselves say exactly what they accept (:func:`padded` patterns
that read the same in Python's ``re`` and in the ECMA-262 regexes of JSON Schema), and a
serializer states its cross-field rules as JSON Schema where they can be (``anyOf``/``not``;
OpenAPI 3.0 has no ``if``/``then``). What JSON Schema cannot say (an ordering between two
dates) is in the field's description.
"""

from __future__ import annotations

from typing import Any

import drf_spectacular.openapi  # noqa: F401 - registers drf-spectacular's contrib extensions
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiFilterExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

# The characters DRF's ``trim_whitespace`` (``str.strip()``) removes around a value, as one
# class that Python's ``re`` and ECMA-262 read the same way (``\s`` differs between them).
WHITESPACE = r"[\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Keywords of an automatic property schema that describe it rather than constrain it.
_ANNOTATIONS = ("description", "title", "default", "readOnly", "writeOnly", "deprecated")


def padded(core: str, *, blank: bool = False) -> str:
    """The pattern of a trimmed text field: ``core`` (or nothing, with ``blank``) with any
    whitespace around it. ``core`` must not itself begin or end with whitespace."""
    return rf"^{WHITESPACE}*(?:{core}){'?' if blank else ''}{WHITESPACE}*$"


def caseless(word: str) -> str:
    """``word`` matched case-insensitively (ASCII), without flags JSON Schema does not have."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField()
    code = serializers.CharField()


_DESCRIPTIONS = {
    400: "Invalid input (nothing was sent to Breeze)",
    401: "Bad or missing key, no live Breeze session, or a token Breeze rejected",
    403: "The client key may not use this endpoint or origin",
    404: "Breeze has no data for this request",
    413: "The request body is too large",
    415: "The body is not JSON",
    429: "Over a rate limit (see Retry-After)",
    502: "Breeze failed or answered nonsense",
    503: "Breeze is failing (circuit open) or the feature is not configured",
    504: "Breeze did not answer in time",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The envelope, documented for each status an endpoint can answer with."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


def strict_request_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: request bodies reject unknown fields (StrictSerializer), so say so;
    and a body that an empty object does not satisfy is required (an absent body reads as
    ``{}``), which drf-spectacular infers from required fields only, not from ``anyOf``."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, component in schemas.items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    for path in result.get("paths", {}).values():
        for operation in path.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body is None:
                continue
            for media in body.get("content", {}).values():
                reference = media.get("schema", {}).get("$ref", "")
                component = schemas.get(reference.rpartition("/")[2])
                if component is not None and _needs_properties(component):
                    body["required"] = True
    return result


def _needs_properties(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` refuses the empty object (by ``required``, in every branch)."""
    if schema.get("required"):
        return True
    if any(_needs_properties(part) for part in schema.get("allOf", [])):
        return True
    branches = schema.get("anyOf", []) + schema.get("oneOf", [])
    return bool(branches) and all(_needs_properties(branch) for branch in branches)


class StrictRequestSchema(OpenApiSerializerExtension):
    """The request schema of every :class:`~common.serializers.StrictSerializer`: unknown
    fields refused; a field with a ``request_schema()`` method described by it alone (instead
    of drf-spectacular's guesses from ``max_length``/``allow_blank``, which describe the value
    after trimming, not what the client sends); and the serializer's ``request_schema_rules()``
    added: its ``properties`` replace those fields' schemas the same way, its other keywords
    (``allOf``, ``anyOf``: cross-field rules) join the object's."""

    target_class = "common.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        serializer = force_instance(self.target)
        properties = schema.setdefault("properties", {})
        exact = {
            name: field.request_schema()
            for name, field in serializer.fields.items()
            if callable(getattr(field, "request_schema", None))
        }
        rules = getattr(serializer, "request_schema_rules", None)
        rules = dict(rules()) if callable(rules) else {}
        exact.update(rules.pop("properties", {}))
        for name, replacement in exact.items():
            automatic = properties.get(name, {})
            kept = {key: automatic[key] for key in _ANNOTATIONS if key in automatic}
            properties[name] = {**replacement, **kept}
        schema.update(rules)
        schema["additionalProperties"] = False
        return schema


def _resolve_extension_targets() -> None:
    """Resolve every registered drf-spectacular extension's target class now, once.

    drf-spectacular resolves a target (a dotted path) on its first use, and not thread-safely:
    when two threads of a fresh gunicorn worker generate the schema at once, the second can
    find the target half-resolved (a class, or None for an app that is not installed) and
    fail, which answered ``GET /api/schema/`` with a 500. This module is imported while the URL
    configuration loads (under the import lock, before any schema is generated), after every
    app's ``ready()`` registered its extensions (``access.schema``)."""
    bases = (
        OpenApiAuthenticationExtension,
        OpenApiFilterExtension,
        OpenApiSerializerExtension,
        OpenApiSerializerFieldExtension,
        OpenApiViewExtension,
    )
    for base in bases:
        for extension in base._registry:
            if isinstance(extension.target_class, str):
                extension._load_class()


_resolve_extension_targets()
