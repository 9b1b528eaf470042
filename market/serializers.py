"""Request validation (Breeze's rules, before any upstream call) and response shapes.

A valid request serializer offers its :attr:`query`: the frozen query of
:mod:`breeze.operations` that everything below the views works with. Each field also
describes itself to the OpenAPI schema exactly as it validates (the same patterns, enums and
bounds), so a client generated from the schema sends what the proxy accepts.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from breeze.operations import Contract, HistoryQuery, OptionChainQuery, QuoteQuery
from common.schema import WHITESPACE, ErrorSerializer, caseless, padded
from common.serializers import StrictSerializer
from instruments import resolver
from instruments.errors import UnknownContract
from market import validation as rules

# What each text field accepts once trimmed (DRF strips the whitespace around a value); the
# schema patterns are these with any such whitespace around (common.schema.padded), so the
# schema says exactly what the field accepts. ASCII only, in Python and in JSON Schema alike.
CODE_TEXT = r"[A-Za-z0-9&\-_.](?:[A-Za-z0-9&\-_. ]{0,28}[A-Za-z0-9&\-_.])?"
_CODE = re.compile(CODE_TEXT)
CODE_PATTERN = padded(CODE_TEXT)
_STRIKE = re.compile(rules.STRIKE_TEXT)
STRIKE_PATTERN = padded(rules.STRIKE_TEXT, blank=True)
BLANK_PATTERN = rf"^{WHITESPACE}*$"


def choice_pattern(values: tuple[str, ...], *, blank: bool = False) -> str:
    """A case-insensitive pattern for ``values`` (JSON Schema has no case-insensitive enum)."""
    return padded("|".join(caseless(value) for value in values), blank=blank)


_CODE_SCHEMA = {"type": "string", "pattern": CODE_PATTERN}


@extend_schema_field(_CODE_SCHEMA)
class _CodeField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def request_schema(self) -> dict[str, Any]:
        return dict(_CODE_SCHEMA)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        value = super().to_internal_value(data)
        if not _CODE.fullmatch(value):
            raise serializers.ValidationError(
                "Use Breeze's stock code (letters, digits, & - _ . space, up to 30), "
                "e.g. RELIND for RELIANCE."
            )
        return value.strip().upper()


class _ChoiceText(serializers.CharField):
    """A case-insensitive choice; the error lists the allowed values."""

    def __init__(self, choices: tuple[str, ...], *, upper: bool = False, **kwargs: Any) -> None:
        self.allowed = choices
        self.upper = upper
        kwargs.setdefault("max_length", 16)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        value = super().to_internal_value(data).strip()
        if not value.isascii():  # "N\u017fE".upper() is "NSE": only ASCII letters count
            raise serializers.ValidationError(f"Should be one of: {', '.join(self.allowed)}.")
        value = value.upper() if self.upper else value.lower()
        if value and value not in self.allowed:
            raise serializers.ValidationError(f"Should be one of: {', '.join(self.allowed)}.")
        return value

    def request_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": choice_pattern(self.allowed, blank=self.allow_blank)}


def _choice(choices: tuple[str, ...], *, upper: bool = False, **kwargs: Any) -> _ChoiceText:
    """A choice field whose schema is the case-insensitive pattern it validates."""
    blank = kwargs.get("allow_blank", False)
    schema = {"type": "string", "pattern": choice_pattern(choices, blank=blank)}
    field_class = extend_schema_field(schema)(type("ChoiceField", (_ChoiceText,), {}))
    return field_class(choices, upper=upper, **kwargs)


_STRIKE_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": STRIKE_PATTERN},
        # multipleOf on the decimal text of the number, as JSON Schema validators read it (and
        # as the field does: 0.0003 is fine, 0.1 + 0.2 = 0.30000000000000004 is not).
        {"type": "number", "minimum": 0, "maximum": rules.STRIKE_MAX, "multipleOf": 0.0001},
    ]
}


@extend_schema_field(_STRIKE_SCHEMA)
class _StrikeField(serializers.Field):
    """A strike as text or a number; comes out as plain decimal text ("24000", "23.5").

    Text is ASCII digits with at most 4 decimals (no sign, exponent, "_" or other digits);
    blank text means no strike. A number must be finite and its decimal text have at most 4
    decimals. Either way 0 to 10,000,000."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)

    def request_schema(self) -> dict[str, Any]:
        return {"oneOf": [dict(choice) for choice in _STRIKE_SCHEMA["oneOf"]]}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise serializers.ValidationError("Strike price must be a number.")
        if isinstance(data, str):
            text = data.strip()
            if not text:
                return ""
            if not _STRIKE.fullmatch(text):
                raise serializers.ValidationError(
                    "Strike price must be digits with at most 4 decimals, between 0 and "
                    f"{rules.STRIKE_MAX:,} (e.g. 24000 or 23.5)."
                )
            strike = Decimal(text)
        else:
            # Compared before any conversion: a huge int has no decimal text to make.
            if not (isinstance(data, int) or math.isfinite(data)) or not (
                0 <= data <= rules.STRIKE_MAX
            ):
                raise serializers.ValidationError(
                    f"Strike price must be between 0 and {rules.STRIKE_MAX:,}."
                )
            strike = Decimal(repr(data)) if isinstance(data, float) else Decimal(data)
            if strike != strike.quantize(Decimal("0.0001")):
                raise serializers.ValidationError("Strike price has at most 4 decimals.")
        return format(strike.normalize() + 0, "f")  # "+ 0": -0.0 is the strike 0

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field({"type": "string"})
class _DateText(serializers.CharField):
    """A date or date-time in one of the accepted forms (parsed in ``validate``), whose day
    must fall in ``window``: "history" (2000-01-01 to tomorrow, IST) or "expiry" (2000-01-01
    to five years ahead). The schema's pattern is computed when the schema is, so it moves
    with the window."""

    def __init__(self, *, window: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        self.window = window
        super().__init__(**kwargs)

    def request_schema(self) -> dict[str, Any]:
        window = rules.history_window() if self.window == "history" else rules.expiry_window()
        return {"type": "string", "pattern": rules.date_pattern(window, blank=self.allow_blank)}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        text = super().to_internal_value(data).strip()
        if text:
            try:
                rules.parse_date_or_datetime(text)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return text


class _QueryMixin:
    """``query``: the validated request as a frozen query (after ``is_valid()``)."""

    validated_data: Any

    @property
    def query(self) -> Any:
        return self.validated_data["query"]


class _ContractFields(StrictSerializer):
    """Fields and rules shared by every instrument-shaped request."""

    stock_code = _CodeField(
        required=False,
        help_text="Breeze's code (RELIND, NIFTY) or, as the seed proxy allowed, the exchange "
        "symbol (RELIANCE). Give this or symbol.",
    )
    symbol = _CodeField(
        required=False,
        help_text="The exchange symbol people type: RELIANCE, NIFTY 50 (or NIFTY), BANKNIFTY. "
        "Give this or stock_code.",
    )
    expiry_date = _DateText(
        window="expiry",
        required=False,
        allow_blank=True,
        default="",
        help_text="F&O expiry, 2000-01-01 to five years ahead: 2025-02-27, 27-Feb-2025 or "
        "27/02/2025. Required on NFO, BFO, NDX and MCX; blank on NSE and BSE.",
    )
    right = _choice(
        rules.RIGHTS,
        required=False,
        allow_blank=True,
        default="",
        help_text="call, put or others (futures).",
    )
    strike_price = _StrikeField(
        help_text="Option strike, e.g. 24000 or 23.5 (at most 4 decimals, up to 10,000,000). "
        "Required for options; blank or 0 on NSE and BSE."
    )

    def _contract(self, attrs: dict[str, Any], *, listed: bool = True) -> Contract:
        """The contract the request names, with Breeze's code resolved from whatever name was
        given; ``listed``: it must be listed today (quotes), not only have been (history)."""
        exchange, product = attrs["exchange_code"], attrs["product_type"]
        expiry_text, right, strike = attrs["expiry_date"], attrs["right"], attrs["strike_price"]
        if exchange in rules.FNO_EXCHANGES:
            if product not in ("futures", "options"):
                raise serializers.ValidationError(
                    {"product_type": [f"Should be 'futures' or 'options' for exchange {exchange}."]}
                )
            if not expiry_text:
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
            expiry_text, right, strike = "", "", ""
        code, symbol = _named(attrs, exchange)
        expiry = _expiry(expiry_text) if expiry_text else None
        if listed and expiry is not None:
            index = resolver.current()
            if index is not None and exchange in resolver_exchanges():
                index.check_contract(
                    exchange,
                    code,
                    expiry=expiry,
                    right=right,
                    strike=Decimal(strike) if product == "options" else None,
                )
        return Contract(
            stock_code=code,
            exchange_code=exchange,
            product_type=product,
            expiry=expiry,
            right=right,
            strike=strike,
            symbol=symbol,
        )


def resolver_exchanges() -> tuple[str, ...]:
    """The exchanges whose members the master holds (MCX and NDX requests pass through)."""
    return ("NSE", "BSE", "NFO", "BFO")


def _named(attrs: dict[str, Any], exchange: str) -> tuple[str, str]:
    """(Breeze's code, the exchange symbol) for the name the request gave. With a master
    loaded an unknown name is a 404 with suggestions, before any call to Breeze; without one
    the name passes through as Breeze's code, as it always did."""
    given = [attrs[name] for name in ("symbol", "stock_code") if attrs.get(name)]
    if not given:
        raise serializers.ValidationError(
            {
                "stock_code": [
                    "Give stock_code (Breeze's code, e.g. RELIND) or symbol (e.g. RELIANCE)."
                ]
            }
        )
    if exchange not in resolver_exchanges():
        return given[-1], ""
    found = [resolver.resolve(exchange, text) for text in given]
    if found[0] is None:  # no master loaded
        return given[-1], ""
    if len({item.stock_code for item in found}) > 1:
        raise serializers.ValidationError(
            {"symbol": [f"symbol and stock_code name different instruments on {exchange}."]}
        )
    return found[0].stock_code, found[0].symbol


def _expiry(text: str) -> Any:
    try:
        return rules.parse_expiry(text)
    except ValueError as exc:
        raise serializers.ValidationError({"expiry_date": [str(exc)]}) from exc


# --- Cross-field rules as JSON Schema (common.schema.StrictRequestSchema merges them) -------
# Subschemas constrain a property only where it is present; absent ones take their defaults
# (exchange NSE / NFO, product cash / options), which the branches below account for.

_BLANK = {"type": "string", "pattern": BLANK_PATTERN}
_GIVEN = {"not": _BLANK}  # present and not blank (a number counts: 0 is a strike)


def _one_of(*values: str) -> dict[str, Any]:
    return {"pattern": choice_pattern(values)}


def _name_rule(serializer: serializers.Serializer) -> list[dict[str, Any]]:
    """stock_code or symbol: at least one of them (when the serializer has both)."""
    if "symbol" not in serializer.fields:
        return []
    return [{"anyOf": [{"required": ["stock_code"]}, {"required": ["symbol"]}]}]


def _contract_schema_rules(
    serializer: serializers.Serializer, cash_products: tuple[str, ...]
) -> dict[str, Any]:
    """``_ContractFields._contract``: F&O exchanges take futures (with an expiry) or options
    (with an expiry, call/put and a strike); the others take ``cash_products`` and no F&O
    field (blank, or a zero strike)."""
    cash_exchanges = tuple(e for e in rules.EXCHANGES if e not in rules.FNO_EXCHANGES)
    derivative = {
        "required": ["exchange_code", "product_type", "expiry_date"],
        "properties": {
            "exchange_code": _one_of(*rules.FNO_EXCHANGES),
            "product_type": _one_of("futures", "options"),
            "expiry_date": _GIVEN,
        },
        "anyOf": [
            {"properties": {"product_type": _one_of("futures")}},
            {
                "required": ["right", "strike_price"],
                "properties": {
                    "product_type": _one_of("options"),
                    "right": _one_of("call", "put"),
                    "strike_price": _GIVEN,
                },
            },
        ],
    }
    zero_strike = {
        "anyOf": [
            {"type": "string", "pattern": padded(r"0+(?:\.0+)?", blank=True)},
            {"type": "number", "maximum": 0},
        ]
    }
    cash = {
        "properties": {
            "exchange_code": _one_of(*cash_exchanges),
            "product_type": _one_of(*cash_products),
            "expiry_date": _BLANK,
            "right": _BLANK,
            "strike_price": zero_strike,
        }
    }
    return {"allOf": [*_name_rule(serializer), {"anyOf": [derivative, cash]}]}


class QuoteRequestSerializer(_QueryMixin, _ContractFields):
    exchange_code = _choice(rules.EXCHANGES, upper=True, required=False, default="NSE")
    product_type = _choice(rules.QUOTE_PRODUCTS, required=False, default="cash")

    def request_schema_rules(self) -> dict[str, Any]:
        return _contract_schema_rules(self, ("cash", "mtf", "btst"))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {"query": QuoteQuery(self._contract(attrs))}


class HistoricalRequestSerializer(_QueryMixin, _ContractFields):
    exchange_code = _choice(rules.EXCHANGES, upper=True, required=False, default="NSE")
    product_type = _choice(rules.HISTORY_PRODUCTS, required=False, default="cash")
    interval = serializers.CharField(
        required=False,
        default="1day",
        max_length=16,
        help_text="1second, 1minute, 5minute, 30minute or 1day "
        "(v1 names minute and day are accepted).",
    )
    from_date = _DateText(
        window="history",
        help_text="Start, IST wall clock: 2025-02-03 or 2025-02-03T09:15:00; 2000-01-01 to "
        "tomorrow (IST).",
    )
    to_date = _DateText(
        window="history",
        help_text="End, IST wall clock; a bare date means the end of that day; 2000-01-01 to "
        "tomorrow (IST). Must not be before from_date (a rule the schema cannot state).",
    )

    def validate_interval(self, value: str) -> str:
        try:
            return rules.normalise_interval(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def request_schema_rules(self) -> dict[str, Any]:
        intervals = (*rules.INTERVALS, *rules.INTERVAL_ALIASES)
        interval = {"type": "string", "pattern": choice_pattern(intervals)}
        rules_ = _contract_schema_rules(self, ("cash",))
        return {**rules_, "properties": {"interval": interval}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, _ = rules.parse_date_or_datetime(attrs["from_date"])
        end, end_has_time = rules.parse_date_or_datetime(attrs["to_date"])
        for name, moment in (("from_date", start), ("to_date", end)):
            try:
                rules.check_history_moment(moment)
            except ValueError as exc:
                raise serializers.ValidationError({name: [str(exc)]}) from exc
        if not end_has_time:
            end = end.replace(hour=23, minute=59, second=59)
        if start > end:
            raise serializers.ValidationError({"to_date": ["Must not be before from_date."]})
        contract = self._contract(attrs, listed=False)  # expired contracts have history
        return {"query": HistoryQuery(contract, attrs["interval"], start, end)}


class OptionChainRequestSerializer(_QueryMixin, StrictSerializer):
    stock_code = _CodeField(required=False, help_text="Underlying's Breeze code, e.g. NIFTY.")
    symbol = _CodeField(
        required=False, help_text="Underlying's symbol, e.g. NIFTY, BANKNIFTY, RELIANCE."
    )
    exchange_code = _choice(rules.CHAIN_EXCHANGES, upper=True, required=False, default="NFO")
    product_type = _choice(rules.CHAIN_PRODUCTS, required=False, default="options")
    expiry_date = _DateText(window="expiry", required=False, allow_blank=True, default="")
    right = _choice(rules.RIGHTS, required=False, allow_blank=True, default="")
    strike_price = _StrikeField()

    def request_schema_rules(self) -> dict[str, Any]:
        def both(first: str, second: str) -> dict[str, Any]:
            return {"required": [first, second], "properties": {first: _GIVEN, second: _GIVEN}}

        futures = {
            "required": ["product_type", "expiry_date"],
            "properties": {"product_type": _one_of("futures"), "expiry_date": _GIVEN},
        }
        options = {
            "properties": {"product_type": _one_of("options")},
            "anyOf": [
                both("expiry_date", "right"),
                both("expiry_date", "strike_price"),
                both("right", "strike_price"),
            ],
        }
        return {"allOf": [*_name_rule(self), {"anyOf": [futures, options]}]}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("expiry_date", "right", "strike_price") if attrs[name]]
        if attrs["product_type"] == "options" and len(given) < 2:
            raise serializers.ValidationError(
                "At least two of expiry_date, right and strike_price are required for options "
                "(usually expiry_date and right, which returns every strike)."
            )
        if attrs["product_type"] == "futures" and not attrs["expiry_date"]:
            raise serializers.ValidationError({"expiry_date": ["Required for futures."]})
        exchange = attrs["exchange_code"]
        code, symbol = _named(attrs, exchange)
        expiry = _expiry(attrs["expiry_date"]) if attrs["expiry_date"] else None
        index = resolver.current()
        if expiry is not None and index is not None:
            listed = index.expiries(exchange, code)
            if expiry not in listed:
                nearest = sorted(listed, key=lambda day: (abs((day - expiry).days), day))[:5]
                raise UnknownContract(
                    f"No {code} contracts expire on {expiry.isoformat()} on {exchange}; "
                    "GET /breeze/expiries lists those that do.",
                    details={"nearest_expiries": [day.isoformat() for day in sorted(nearest)]},
                )
        query = OptionChainQuery(
            stock_code=code,
            exchange_code=exchange,
            product_type=attrs["product_type"],
            expiry=expiry,
            right=attrs["right"],
            strike=attrs["strike_price"],
            symbol=symbol,
        )
        return {"query": query}


class BatchQuoteRequestSerializer(StrictSerializer):
    """The list is validated item by item in the service, so one bad item fails only itself."""

    instruments = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        min_length=1,
        help_text="Up to BREEZE_BATCH_MAX (50) quote requests, each shaped like /breeze/quotes.",
    )

    def request_schema_rules(self) -> dict[str, Any]:
        # Any item but null: each is validated (and refused, with its own 400) in the answer.
        anything = [{"type": kind} for kind in ("object", "array", "string", "number", "boolean")]
        maximum = settings.BREEZE_BATCH_MAX
        items = {"anyOf": anything}
        instruments = {"type": "array", "items": items, "minItems": 1, "maxItems": maximum}
        return {"properties": {"instruments": instruments}}

    def validate_instruments(self, value: list[Any]) -> list[Any]:
        if len(value) > settings.BREEZE_BATCH_MAX:
            raise serializers.ValidationError(
                f"At most {settings.BREEZE_BATCH_MAX} instruments per batch."
            )
        return value


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


class _AnswerFields(serializers.Serializer):
    as_of = serializers.DateTimeField(help_text="When Breeze produced this answer (UTC).")
    stale = serializers.BooleanField(help_text="True: Breeze is failing; the last good answer.")


class QuoteResponseSerializer(_AnswerFields):
    Success = QuoteRowSerializer(many=True)


class DepthRowSerializer(BestBidOfferRowSerializer):
    levels = serializers.IntegerField(help_text="Always 1: Breeze's REST API has no deeper book.")


class DepthResponseSerializer(_AnswerFields):
    Success = DepthRowSerializer(many=True)


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


class HistoricalResponseSerializer(_AnswerFields):
    Success = CandleSerializer(many=True)
    stock_code = serializers.CharField(help_text="Breeze's code of the instrument.")
    symbol = serializers.CharField(
        allow_null=True, help_text="The exchange symbol, when the master knows it."
    )
    complete = serializers.BooleanField(
        help_text="False: the range was longer than one request may fetch, or a page failed; "
        "the candles cover `from`..`to` and the request continues at `next_to_date`."
    )
    next_to_date = serializers.DateTimeField(
        allow_null=True, help_text="The `to_date` of the request that continues (IST)."
    )
    upstream_calls = serializers.IntegerField(
        help_text="Breeze calls this request cost (0: all from the store or the cache)."
    )
    from_ = serializers.DateTimeField(help_text="The first candle start the answer covers.")
    to = serializers.DateTimeField(help_text="The end of the range the answer covers.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # "from" is a Python keyword
        return fields


class OptionChainRowSerializer(QuoteRowSerializer):
    ltq = serializers.CharField()
    open_interest = serializers.FloatField()
    chnge_oi = serializers.FloatField()
    total_buy_qty = serializers.CharField()
    total_sell_qty = serializers.CharField()


class OptionChainResponseSerializer(_AnswerFields):
    Success = OptionChainRowSerializer(many=True)


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
