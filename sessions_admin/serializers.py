"""Shapes of the session administration API."""

from __future__ import annotations

from rest_framework import serializers

from common.serializers import StrictSerializer
from sessions_admin.services import TOKEN_PATTERN, InvalidSessionToken


class ApiSessionRequestSerializer(StrictSerializer):
    api_session = serializers.RegexField(
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
