"""Shapes of the session administration API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from common.schema import padded
from common.serializers import StrictSerializer
from sessions_admin.services import TOKEN_PATTERN, InvalidSessionToken


class _TokenField(serializers.RegexField):
    """The token, trimmed, then matched: the schema says so (any whitespace around it, no
    length limit on the padding), where drf-spectacular would add ``maxLength`` to the text
    as sent. A JSON integer is taken as its digits (a token pasted without quotes,
    12345678); any other number (1000.5, 1e9) or a boolean is refused, never sent to Breeze."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool | float):
            self.fail("invalid")
        return super().to_internal_value(data)

    def request_schema(self) -> dict[str, Any]:
        core = TOKEN_PATTERN.removeprefix("^").removesuffix("$")
        return {
            "oneOf": [
                {"type": "string", "pattern": padded(core)},
                # 4 to 256 characters: 1000 and up, -100 and down
                {"type": "integer", "minimum": 1000, "maximum": 10**256 - 1},
                {"type": "integer", "minimum": -(10**255 - 1), "maximum": -100},
            ]
        }


class ApiSessionRequestSerializer(StrictSerializer):
    api_session = _TokenField(
        TOKEN_PATTERN,
        max_length=256,
        trim_whitespace=True,
        write_only=True,
        error_messages={"invalid": InvalidSessionToken.message},
        help_text="Today's API session token from the Breeze login redirect (?apisession=...).",
    )


class FailedActivationSerializer(serializers.Serializer):
    at = serializers.CharField(help_text="ISO 8601 with the IST offset.")
    by = serializers.CharField()
    error = serializers.CharField()


class SessionStateSerializer(serializers.Serializer):
    """The session state; the same shape in health, the admin API and the command."""

    session_active = serializers.BooleanField()
    session_valid = serializers.BooleanField()
    status = serializers.CharField()
    breeze_user_id = serializers.CharField(allow_null=True)
    activated_at = serializers.CharField(allow_null=True, help_text="ISO 8601, IST offset.")
    activated_by = serializers.CharField(allow_null=True)
    expires_at = serializers.CharField(
        allow_null=True, help_text="ISO 8601 with the IST offset, e.g. 2026-12-01T00:00:00+05:30."
    )
    seconds_left = serializers.IntegerField(min_value=0)
    last_error = serializers.CharField(allow_null=True)
    last_failed_activation = FailedActivationSerializer(allow_null=True)


class ApiSessionResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    session = SessionStateSerializer()
