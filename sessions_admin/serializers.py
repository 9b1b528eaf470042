"""Shapes of the session administration API."""

from __future__ import annotations

from rest_framework import serializers

from breeze_proxy.serializers import StrictSerializer
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


class SessionStateSerializer(serializers.Serializer):
    session_active = serializers.BooleanField()
    session_valid = serializers.BooleanField()
    status = serializers.CharField()
    breeze_user_id = serializers.CharField(allow_null=True)
    activated_at = serializers.DateTimeField(allow_null=True)
    activated_by = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    seconds_left = serializers.IntegerField()
    last_error = serializers.CharField(allow_null=True)


class ApiSessionResponseSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    session = SessionStateSerializer()
