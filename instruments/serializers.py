"""Query parameters of the instrument endpoints, validated like every request body."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.schema import padded
from common.serializers import StrictSerializer
from instruments.models import Instrument

EXCHANGES = ("NSE", "BSE", "NFO", "BFO")
# A name as searched or asked for: 1-60 of letters, digits, & - _ . and inner spaces.
NAME_TEXT = r"[A-Za-z0-9&\-_.](?:[A-Za-z0-9&\-_. ]{0,58}[A-Za-z0-9&\-_.])?"
_NAME = re.compile(NAME_TEXT)


@extend_schema_field({"type": "string", "pattern": padded(NAME_TEXT)})
class _NameText(serializers.CharField):
    """A symbol, code, company name or ISIN; whitespace around it is ignored, and the schema
    says exactly that (the length is of the trimmed text, so there is no ``maxLength``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        value = data.strip()
        if not _NAME.fullmatch(value):
            raise serializers.ValidationError(
                "Use 1-60 letters, digits, spaces or & - _ . (a symbol, code, name or ISIN)."
            )
        return value


class _UpperChoice(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data.strip().upper() if isinstance(data, str) else data)


class SearchParams(StrictSerializer):
    q = _NameText(help_text="Symbol, code, name or ISIN.")
    exchange = _UpperChoice(EXCHANGES, required=False)
    type = serializers.ChoiceField(Instrument.Kind.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class ExpiriesParams(StrictSerializer):
    symbol = _NameText(help_text="e.g. NIFTY, RELIANCE")
    exchange = _UpperChoice(("NFO", "BFO"), default="NFO")


class StrikesParams(ExpiriesParams):
    expiry = serializers.DateField(help_text="YYYY-MM-DD, as /breeze/expiries lists them.")
    right = serializers.ChoiceField(("call", "put"), required=False)


class InstrumentSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField(help_text="The exchange's symbol, e.g. RELIANCE.")
    stock_code = serializers.CharField(help_text="Breeze's code, e.g. RELIND.")
    token = serializers.CharField()
    feed_token = serializers.CharField(
        allow_null=True, help_text="Breeze's live-feed token, e.g. 4.1!2885 (null: none)."
    )
    company_name = serializers.CharField()
    type = serializers.CharField()
    series = serializers.CharField(allow_blank=True)
    isin = serializers.CharField(allow_null=True)
    expiry = serializers.DateField(allow_null=True)
    strike = serializers.CharField(allow_null=True)
    right = serializers.CharField(allow_null=True)
    lot_size = serializers.IntegerField()
    tick_size = serializers.CharField()


class InstrumentDetailSerializer(InstrumentSerializer):
    expiries = serializers.ListField(child=serializers.DateField(), required=False)


class SearchResultSerializer(serializers.Serializer):
    results = InstrumentSerializer(many=True)


class ExpirySerializer(serializers.Serializer):
    date = serializers.DateField()
    kind = serializers.ChoiceField(("weekly", "monthly"))


class ExpiriesSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    stock_code = serializers.CharField()
    expiries = ExpirySerializer(many=True)


class StrikesSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField()
    stock_code = serializers.CharField()
    expiry = serializers.DateField()
    strikes = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
