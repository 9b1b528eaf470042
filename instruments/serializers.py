"""Query parameters of the instrument endpoints, validated like every request body."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from common.serializers import StrictSerializer
from instruments.models import Instrument

EXCHANGES = ("NSE", "BSE", "NFO", "BFO")
TEXT_PATTERN = r"^\s*[A-Za-z0-9&\-_. ]{1,60}\s*$"


class _UpperChoice(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data.strip().upper() if isinstance(data, str) else data)


class SearchParams(StrictSerializer):
    q = serializers.RegexField(TEXT_PATTERN, max_length=64, help_text="Symbol, code, name or ISIN.")
    exchange = _UpperChoice(EXCHANGES, required=False)
    type = serializers.ChoiceField(Instrument.Kind.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class ExpiriesParams(StrictSerializer):
    symbol = serializers.RegexField(TEXT_PATTERN, max_length=64, help_text="e.g. NIFTY, RELIANCE")
    exchange = _UpperChoice(("NFO", "BFO"), default="NFO")


class StrikesParams(ExpiriesParams):
    expiry = serializers.DateField(help_text="YYYY-MM-DD, as /breeze/expiries lists them.")
    right = serializers.ChoiceField(("call", "put"), required=False)


class InstrumentSerializer(serializers.Serializer):
    exchange = serializers.CharField()
    symbol = serializers.CharField(help_text="The exchange's symbol, e.g. RELIANCE.")
    stock_code = serializers.CharField(help_text="Breeze's code, e.g. RELIND.")
    token = serializers.CharField()
    feed_token = serializers.CharField(help_text="Breeze's live-feed token, e.g. 4.1!2885.")
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
