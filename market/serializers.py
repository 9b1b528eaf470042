"""Request validation (Breeze's rules, before any upstream call) and response shapes.

Validated data comes out ready for the SDK: codes upper-cased, dates in the SDK's wire format,
strikes as plain decimal strings, so services never re-parse client input.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from rest_framework import serializers

from breeze_proxy.schema import ErrorSerializer
from breeze_proxy.serializers import StrictSerializer
from market import validation as rules

_STOCK_CODE = re.compile(r"^[A-Za-z0-9&\-_. ]{1,30}$")


class _CodeField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        value = super().to_internal_value(data).strip().upper()
        if not _STOCK_CODE.match(value):
            raise serializers.ValidationError(
                "Use Breeze's stock code (letters, digits, & - _ . space), "
                "e.g. RELIND for RELIANCE."
            )
        return value


class _ChoiceText(serializers.CharField):
    """A case-insensitive choice; the error lists the allowed values."""

    def __init__(self, choices: tuple[str, ...], *, upper: bool = False, **kwargs: Any) -> None:
        self.allowed = choices
        self.upper = upper
        kwargs.setdefault("max_length", 16)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data).strip()
        value = value.upper() if self.upper else value.lower()
        if value and value not in self.allowed:
            raise serializers.ValidationError(f"Should be one of: {', '.join(self.allowed)}.")
        return value


class _StrikeField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool):
            raise serializers.ValidationError("Strike price must be a number.")
        if isinstance(data, int | float):
            data = str(data)
        text = super().to_internal_value(data).strip()
        if not text:
            return ""
        try:
            strike = Decimal(text)
        except InvalidOperation as exc:
            raise serializers.ValidationError("Strike price must be a number.") from exc
        if not strike.is_finite() or strike < 0 or strike > Decimal("10000000"):
            raise serializers.ValidationError("Strike price must be between 0 and 10,000,000.")
        return format(strike.normalize(), "f")


class _DateText(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data).strip()
        if text:
            try:
                rules.parse_date_or_datetime(text)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return text


class _DerivativeFields(StrictSerializer):
    """Fields and rules shared by every instrument-shaped request."""

    stock_code = _CodeField(help_text="Breeze stock code, e.g. RELIND, TCS, NIFTY.")
    expiry_date = _DateText(
        required=False,
        allow_blank=True,
        default="",
        help_text="F&O expiry, e.g. 2025-02-27 or 27-Feb-2025.",
    )
    right = _ChoiceText(
        rules.RIGHTS,
        required=False,
        allow_blank=True,
        default="",
        help_text="call, put or others (futures).",
    )
    strike_price = _StrikeField(default="", help_text="Option strike, e.g. 24000.")

    def _derivative_rules(self, attrs: dict[str, Any]) -> dict[str, Any]:
        exchange, product = attrs["exchange_code"], attrs["product_type"]
        expiry, right, strike = attrs["expiry_date"], attrs["right"], attrs["strike_price"]
        if exchange in rules.FNO_EXCHANGES:
            if product not in ("futures", "options"):
                raise serializers.ValidationError(
                    {"product_type": [f"Should be 'futures' or 'options' for exchange {exchange}."]}
                )
            if not expiry:
                raise serializers.ValidationError(
                    {"expiry_date": [f"Required for {product} on {exchange}."]}
                )
            if product == "options":
                if right not in ("call", "put"):
                    raise serializers.ValidationError(
                        {"right": ["Should be 'call' or 'put' for options."]}
                    )
                if not strike:
                    raise serializers.ValidationError({"strike_price": ["Required for options."]})
            else:
                right, strike = "others", "0"
        else:
            if product in ("futures", "options"):
                raise serializers.ValidationError(
                    {"exchange_code": [f"{product} trade on NFO or BFO, not {exchange}."]}
                )
            for name in ("expiry_date", "right", "strike_price"):
                if attrs[name] not in ("", "0"):
                    raise serializers.ValidationError(
                        {name: ["Only for futures and options (exchange NFO or BFO)."]}
                    )
            expiry, right, strike = "", "", ""
        if expiry:
            expiry = rules.breeze_expiry(rules.parse_expiry(expiry))
        attrs.update(expiry_date=expiry, right=right, strike_price=strike)
        return attrs


class QuoteRequestSerializer(_DerivativeFields):
    exchange_code = _ChoiceText(rules.EXCHANGES, upper=True, required=False, default="NSE")
    product_type = _ChoiceText(rules.QUOTE_PRODUCTS, required=False, default="cash")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return self._derivative_rules(attrs)


class HistoricalRequestSerializer(_DerivativeFields):
    exchange_code = _ChoiceText(rules.EXCHANGES, upper=True, required=False, default="NSE")
    product_type = _ChoiceText(("cash", "futures", "options"), required=False, default="cash")
    interval = serializers.CharField(
        required=False,
        default="1day",
        max_length=16,
        help_text="1second, 1minute, 5minute, 30minute or 1day "
        "(v1 names minute and day are accepted).",
    )
    from_date = _DateText(help_text="Start, IST wall clock: 2025-02-03 or 2025-02-03T09:15:00.")
    to_date = _DateText(help_text="End, IST wall clock; a bare date means the end of that day.")

    def validate_interval(self, value: str) -> str:
        try:
            return rules.normalise_interval(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, _ = rules.parse_date_or_datetime(attrs["from_date"])
        end, end_has_time = rules.parse_date_or_datetime(attrs["to_date"])
        if not end_has_time:
            end = end.replace(hour=23, minute=59, second=59)
        if start > end:
            raise serializers.ValidationError({"to_date": ["Must not be before from_date."]})
        attrs = self._derivative_rules(attrs)
        attrs.update(from_date=rules.breeze_timestamp(start), to_date=rules.breeze_timestamp(end))
        return attrs


class OptionChainRequestSerializer(StrictSerializer):
    stock_code = _CodeField(help_text="Underlying, e.g. NIFTY.")
    exchange_code = _ChoiceText(("NFO", "BFO"), upper=True, required=False, default="NFO")
    product_type = _ChoiceText(("futures", "options"), required=False, default="options")
    expiry_date = _DateText(required=False, allow_blank=True, default="")
    right = _ChoiceText(rules.RIGHTS, required=False, allow_blank=True, default="")
    strike_price = _StrikeField(default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("expiry_date", "right", "strike_price") if attrs[name]]
        if attrs["product_type"] == "options" and len(given) < 2:
            raise serializers.ValidationError(
                "At least two of expiry_date, right and strike_price are required for options "
                "(usually expiry_date and right, which returns every strike)."
            )
        if attrs["product_type"] == "futures" and not attrs["expiry_date"]:
            raise serializers.ValidationError({"expiry_date": ["Required for futures."]})
        if attrs["expiry_date"]:
            attrs["expiry_date"] = rules.breeze_expiry(rules.parse_expiry(attrs["expiry_date"]))
        return attrs


# --- Response shapes (for the OpenAPI schema; rows are passed on as Breeze sends them) ------


class BestBidOfferRowSerializer(serializers.Serializer):
    """The instrument, last trade and best bid/offer: what depth returns of a quote row."""

    exchange_code = serializers.CharField()
    product_type = serializers.CharField(allow_blank=True, allow_null=True)
    stock_code = serializers.CharField()
    expiry_date = serializers.CharField(allow_null=True, required=False)
    right = serializers.CharField(allow_null=True, required=False)
    strike_price = serializers.FloatField(allow_null=True, required=False)
    ltp = serializers.FloatField()
    ltt = serializers.CharField(allow_null=True, required=False)
    best_bid_price = serializers.FloatField()
    best_bid_quantity = serializers.CharField()
    best_offer_price = serializers.FloatField()
    best_offer_quantity = serializers.CharField()


class QuoteRowSerializer(BestBidOfferRowSerializer):
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    previous_close = serializers.FloatField()
    ltp_percent_change = serializers.FloatField()
    upper_circuit = serializers.FloatField()
    lower_circuit = serializers.FloatField()
    total_quantity_traded = serializers.CharField()
    spot_price = serializers.CharField(allow_null=True, required=False)


class QuoteResponseSerializer(serializers.Serializer):
    Success = QuoteRowSerializer(many=True)
    as_of = serializers.DateTimeField()
    stale = serializers.BooleanField()


class DepthRowSerializer(BestBidOfferRowSerializer):
    levels = serializers.IntegerField(help_text="Always 1: Breeze's REST API has no deeper book.")


class DepthResponseSerializer(serializers.Serializer):
    Success = DepthRowSerializer(many=True)
    as_of = serializers.DateTimeField()
    stale = serializers.BooleanField()


class CandleSerializer(serializers.Serializer):
    datetime = serializers.CharField(help_text="IST, YYYY-MM-DD HH:MM:SS")
    stock_code = serializers.CharField()
    exchange_code = serializers.CharField()
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.IntegerField()
    open_interest = serializers.IntegerField(required=False)
    product_type = serializers.CharField(required=False)
    expiry_date = serializers.CharField(required=False)
    right = serializers.CharField(required=False)
    strike_price = serializers.FloatField(required=False)


class HistoricalResponseSerializer(serializers.Serializer):
    Success = CandleSerializer(many=True)
    as_of = serializers.DateTimeField()
    stale = serializers.BooleanField()


class OptionChainRowSerializer(QuoteRowSerializer):
    ltq = serializers.CharField()
    open_interest = serializers.FloatField()
    chnge_oi = serializers.FloatField()
    total_buy_qty = serializers.CharField()
    total_sell_qty = serializers.CharField()


class OptionChainResponseSerializer(serializers.Serializer):
    Success = OptionChainRowSerializer(many=True)
    as_of = serializers.DateTimeField()
    stale = serializers.BooleanField()


class BatchQuoteRequestSerializer(StrictSerializer):
    """The list is validated item by item in the service, so one bad item fails only itself."""

    instruments = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        help_text="Up to BREEZE_BATCH_MAX (50) quote requests, each shaped like /breeze/quotes.",
    )

    def validate_instruments(self, value: list[Any]) -> list[Any]:
        from django.conf import settings

        if len(value) > settings.BREEZE_BATCH_MAX:
            raise serializers.ValidationError(
                f"At most {settings.BREEZE_BATCH_MAX} instruments per batch."
            )
        return value


class BatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request's instruments list.")
    status = serializers.IntegerField(help_text="The HTTP status this item would have alone.")
    Success = QuoteRowSerializer(many=True, required=False)
    as_of = serializers.DateTimeField(required=False)
    stale = serializers.BooleanField(required=False)
    cache = serializers.CharField(required=False, help_text="hit, miss or stale")
    error = ErrorSerializer(required=False)


class BatchQuoteResponseSerializer(serializers.Serializer):
    results = BatchItemSerializer(many=True)
