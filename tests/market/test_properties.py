"""Property-based tests of every request body the proxy accepts (Hypothesis).

Every request serializer and endpoint body (quotes, depth, historical, option-chain, each item
of quotes/batch, the admin api-session) is fed three families of input:

* any JSON value: a recursive strategy of null, booleans, integers (huge ones too), floats
  (NaN and the infinities as well, which Python's ``json`` writes as ``NaN``/``Infinity``
  tokens), unicode and whitespace-heavy strings, lists and objects; sent as raw bodies that
  also carry those tokens, ``1e309``, invalid UTF-8, a BOM, lone surrogates, truncation,
  nesting past the 16-level bound and odd content types;
* "nearly valid" bodies: a valid body with one field dropped, renamed or replaced by a wrong
  type, an edge date in every accepted form (year 1, 999, 9999, ``0001-01-01T00:00:00+05:30``,
  far future, Feb 30, 31 Nov, leap days, the exact edges of the history and expiry windows,
  unicode digits), an edge strike (huge, negative, ``1e309``, 5 decimals, unicode digits),
  a very long string or a deeply nested list;
* combinations: every field drawn from its valid values (any case, any whitespace, every
  date form, blank), so the cross-field rules (F&O needs an expiry, options a right and a
  strike, ...) are met and broken in every way.

Properties:

* through the Django test client and the real app (middleware, front door, DRF) with a live
  session against the simulator and a client key: the answer is 2xx or 4xx, never 5xx; every
  4xx is the error envelope and cost no upstream call (``sim.stats()["total_calls"]``), except
  the answers that are Breeze's own (404 ``no_data``, 401 ``session_token_rejected``); the
  endpoint agrees with its serializer (refused: 400 ``invalid_request``, or
  ``malformed_request`` when the body is not JSON; accepted: never a 400);
* called directly, ``is_valid()`` never raises, and a valid serializer's ``query`` is built
  from canonical values (upper-case codes, windowed dates, plain decimal strikes) and has a
  ``str`` ``cache_key()``; validating the same data again gives the same query;
* the OpenAPI schema of each request body says exactly what its serializer accepts (judged by
  ``jsonschema_rs``, the validator schemathesis uses), but for what JSON Schema cannot say
  (``to_date`` before ``from_date``; an offset moving a time across the first or last day
  of a date window, which the schema leaves out).

150 examples per property by default; ``--run-slow`` runs 2,000 and
``BREEZE_PROPERTY_EXAMPLES=N`` any number. The run prints the examples per serializer and
endpoint, and the count of 5xx answers.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from breeze import clock
from breeze.errors import ProxyError
from breeze.operations import HistoryQuery, OptionChainQuery, QuoteQuery
from common.parsers import MAX_JSON_DEPTH, load_json
from market import serializers as shapes
from market import validation as rules
from sessions_admin.serializers import ApiSessionRequestSerializer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
    # Stock codes may hold spaces (NIFTY BANK), so may cache keys: fine for Redis and local
    # memory, which the proxy uses; only memcached would mind.
    pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning"),
]

DEFAULT_EXAMPLES = 150
SLOW_EXAMPLES = 2000
ENVELOPE = {"error", "message", "details", "code"}
# 4xx answers that come from Breeze itself, so an upstream call before them is right.
UPSTREAM_4XX_CODES = {"no_data", "session_token_rejected"}
ADMIN_KEY_META = "HTTP_X_PROXY_ADMIN_KEY"
CLIENT_KEY_META = "HTTP_X_PROXY_KEY"
JSON = "application/json"

EXAMPLES: Counter[str] = Counter()  # examples run, per property and serializer / endpoint
SERVER_ERRORS: Counter[str] = Counter()  # 5xx answers (a property fails on the first)


def _examples(config: pytest.Config) -> int:
    configured = os.environ.get("BREEZE_PROPERTY_EXAMPLES")
    if configured:
        return int(configured)
    return SLOW_EXAMPLES if config.getoption("--run-slow") else DEFAULT_EXAMPLES


def _run(config: pytest.Config, test: Callable[..., None], **given_kwargs: Any) -> None:
    """Run ``test`` under Hypothesis with this module's settings (examples from the config)."""
    hypothesis_settings(
        max_examples=_examples(config),
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )(given(**given_kwargs)(test))()


def _note(text: str) -> None:
    if currently_in_test_context():
        note(text)


# --- Valid bodies (relative to today, so the date windows never make them stale) ----------


def _today() -> date:
    return clock.now().date()


def _next_thursday() -> date:
    today = _today()
    return today + timedelta(days=(3 - today.weekday()) % 7 or 7)


def valid_quote_bodies() -> list[dict[str, Any]]:
    expiry = _next_thursday().isoformat()
    return [
        {"stock_code": "RELIND"},
        {"stock_code": "NIFTY", "exchange_code": "NSE", "product_type": "cash"},
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "product_type": "options",
            "expiry_date": expiry,
            "right": "call",
            "strike_price": "24000",
        },
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "product_type": "futures",
            "expiry_date": expiry,
        },
    ]


def valid_history_bodies() -> list[dict[str, Any]]:
    end = _today() - timedelta(days=3)
    start = end - timedelta(days=30)
    return [
        {"stock_code": "RELIND", "from_date": start.isoformat(), "to_date": end.isoformat()},
        {
            "stock_code": "TCS",
            "exchange_code": "NSE",
            "interval": "5minute",
            "from_date": f"{end.isoformat()}T09:15:00",
            "to_date": f"{end.isoformat()}T10:15:00",
        },
        {
            "stock_code": "NIFTY",
            "exchange_code": "NFO",
            "product_type": "futures",
            "expiry_date": _next_thursday().isoformat(),
            "interval": "1day",
            "from_date": start.strftime("%d-%b-%Y"),
            "to_date": end.strftime("%d-%b-%Y"),
        },
    ]


def valid_chain_bodies() -> list[dict[str, Any]]:
    expiry = _next_thursday().isoformat()
    return [
        {"stock_code": "NIFTY", "expiry_date": expiry, "right": "call"},
        {"stock_code": "NIFTY", "expiry_date": expiry, "strike_price": 24000},
        {"stock_code": "NIFTY", "product_type": "futures", "expiry_date": expiry},
    ]


def valid_session_bodies() -> list[dict[str, Any]]:
    return [{"api_session": "12345678"}, {"api_session": "tok-abc_DEF.123"}]


# --- Strategies ---------------------------------------------------------------------------

# Python's str.strip() set, ECMA-only \ufeff, and the zero-width space (whitespace to neither).
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000\ufeff\u200b"
UNICODE_DIGITS = {  # 0-9 in other scripts (Python's \d and int() take them all)
    "arabic-indic": "".join(chr(0x0660 + i) for i in range(10)),
    "fullwidth": "".join(chr(0xFF10 + i) for i in range(10)),
    "devanagari": "".join(chr(0x0966 + i) for i in range(10)),
    "mathematical": "".join(chr(0x1D7CE + i) for i in range(10)),
}
FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LONG_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=WHITESPACE, max_size=6),
    st.text(alphabet=st.characters(codec="ascii"), max_size=40),
    st.sampled_from(["", " ", "null", "NaN", "Infinity", "-0", "0", "true", "\x00", "\ud800"]),
)
huge_integers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([2**63, -(2**63) - 1, 10**100, 10_000_001, -1]),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_integers,
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(texts, children, max_size=5)
    ),
    max_leaves=20,
)


def _to_unicode_digits(text: str, digits: str) -> str:
    return text.translate(str.maketrans("0123456789", digits))


def _month_name(month: int, style: str) -> str:
    return (MONTHS if style == "mon" else LONG_MONTHS)[month - 1]


@st.composite
def edge_dates(draw: st.DrawFn) -> str:
    """A date or date-time string near every edge the parser and the windows have."""
    today = _today()
    year = draw(
        st.one_of(
            st.sampled_from([1, 2, 99, 999, 1000, 1969, 1970, 1999, 2000, 2100, 9999]),
            st.sampled_from([today.year - 1, today.year, today.year + 1, today.year + 5]),
            st.sampled_from([today.year + 6, 2400]),
            st.integers(min_value=1, max_value=9999),
        )
    )
    month = draw(st.one_of(st.integers(1, 12), st.sampled_from([0, 13, 99])))
    day = draw(st.one_of(st.integers(1, 31), st.sampled_from([0, 29, 30, 31, 32, 99])))
    clock_time = draw(
        st.sampled_from(
            ["", "T00:00:00", " 09:15:00", "T23:59:59", "T24:00:00", "T09:15", "T00:00:00.000",
             "T23:59:59.999999", "T12:00:00.1234567", "T25:61:61", "T09:15:60"]
        )
    )  # fmt: skip
    offset = draw(
        st.sampled_from(
            ["", "Z", "+05:30", "-05:30", "+00:00", "+14:00", "-12:00", "+23:59", "+24:00"]
        )
    )
    style = draw(st.sampled_from(["iso", "mon", "month", "slash", "compact"]))
    if style == "iso":
        text = f"{year:04d}-{month:02d}-{day:02d}{clock_time}{offset}"
    elif style in ("mon", "month"):
        if 1 <= month <= 12:
            name = _month_name(month, style)
        else:
            name = draw(st.sampled_from(["Foo", "Sept", "Jnu"]))
        name = draw(st.sampled_from([name, name.upper(), name.lower()]))
        text = f"{day:02d}-{name}-{year:04d}"
    elif style == "slash":
        text = f"{day}/{month}/{year:04d}"
    else:
        text = f"{year:04d}{month:02d}{day:02d}"
    how = draw(st.sampled_from(["plain", "plain", "plain", "unicode", "padded"]))
    if how == "unicode":
        return _to_unicode_digits(text, draw(st.sampled_from(sorted(UNICODE_DIGITS.values()))))
    if how == "padded":
        pad = draw(st.text(alphabet=WHITESPACE, min_size=1, max_size=3))
        return f"{pad}{text}{pad}"
    return text


def window_dates() -> list[str]:
    """The exact edges of the history window (2000-01-01..tomorrow) and the expiry window."""
    today = _today()
    five_years = rules.expiry_window()[1]
    days = [
        date(1999, 12, 31), date(2000, 1, 1), date(2000, 2, 29), date(2024, 2, 29),
        today, today + timedelta(days=1), today + timedelta(days=2),
        five_years, five_years + timedelta(days=1), date(9999, 12, 31), date(1, 1, 1),
    ]  # fmt: skip
    tomorrow = (today + timedelta(days=1)).isoformat()
    fixed = [
        "0001-01-01T00:00:00+05:30", "0001-01-01T00:00:00-05:30", "9999-12-31T23:59:59-05:30",
        "9999-12-31T23:59:59+05:30", "2025-02-30", "30-Feb-2024", "2025-11-31", "31-Nov-2025",
        "31/11/2025", "2023-02-29", "29-Feb-2023", "2100-02-29", "1900-02-29", "0999-01-01",
        "999-01-01", "1-Jan-999", "2000-01-01T00:00:00+05:31", "2000-01-01T05:29:59+05:30",
        "2025-02-03+05:30", "2025-02-03Z", "2025-02-03T09:15:00.000Z", "03-FEBRUARY-2025",
        "3/2/2025", "03/02/2025 ", f"{today.isoformat()}T23:59:59-12:00", f"{tomorrow}T23:59:59Z",
    ]  # fmt: skip
    return [d.isoformat() for d in days] + [d.strftime("%d-%b-%Y") for d in days] + fixed


STRIKE_EDGES = [
    0, -1, -0.0, 0.5, 1e-5, 0.0003, 0.1 + 0.2, 24000.00005, 9999999.9999, 10_000_000,
    10_000_000.0001, 10_000_001, 10**20, 10**400, 1e308, float("inf"), float("nan"), True,
    "24000", "24000.00", "24000.0001", "24000.00001", "24000.10000", " 24000 ", "24,000",
    "1e3", "1E3", "0x10", "1_000", "-0", "+5", "-5", "NaN", "Infinity", "-Infinity", "1e309",
    ".5", "5.", "00024000", "010000000", "10000000.0", "10000000.5", "99999999.9999",
    "100000000", "", " ", "0", "0.000", "24000".translate(FULLWIDTH),
    _to_unicode_digits("24000", UNICODE_DIGITS["arabic-indic"]),
    _to_unicode_digits("24000", UNICODE_DIGITS["devanagari"]),
]  # fmt: skip
WORD_EDGES = [
    "NSE", "nse", " NfO ", "NYSE", "N\u017fE", "NSE\x00", "NSE".translate(FULLWIDTH), "cash",
    "CASH", "FUTURES", "options", "mtf", "btst", "margin", "call", "PUT", " Put ", "others",
    "c\u0430ll", "1day", "DAY", "minute", "5min", "2minute", "1 day", "1\u212aday", "", " ",
    None, 1, [], {},
]  # fmt: skip
CODE_EDGES = [
    "RELIND", " relind ", "M&M", "NIFTY BANK", "NIFTY  BANK", "X" * 30, "X" * 31, " " * 50 + "A",
    "REL;DROP", "RELIND".translate(FULLWIDTH), "REL\u0130ND", "\u00df", "\u212a", "\u0131NFY",
    "\x1cTCS\x1c", "\ufeffTCS", "TCS\n", "\u200bTCS", "", " ", 7, None,
]  # fmt: skip
TOKEN_EDGES = [
    "abc", "abcd", "a" * 256, "a" * 257, " 12345678 ", "1234 5678", "tok\n", "tok%20",
    "\u00c4\u00d6\u00dc1234", "12345678\x00", "=" * 8, "\ufeff12345678", " " * 300 + "abcd",
]  # fmt: skip

strikes = st.one_of(
    st.sampled_from(STRIKE_EDGES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=rules.STRIKE_MAX),
    st.decimals(min_value=0, max_value=10**8, places=6).map(str),
    huge_integers,
)


def long_strings() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(31, 70_000).map(lambda n: "X" * n),
        st.integers(20, 200).map(lambda n: " " * n + "RELIND" + " " * n),
        st.text(min_size=100, max_size=2000),
    )


def nested_lists() -> st.SearchStrategy[Any]:
    def nest(depth: int) -> Any:
        value: Any = "x"
        for level in range(depth):
            value = [value] if level % 2 else {"a": value}
        return value

    return st.integers(1, 40).map(nest)


def field_mutations(field: str) -> st.SearchStrategy[Any]:
    """Values for one field: the wrong types, and near misses of the right one."""
    generic = st.one_of(json_values, long_strings(), nested_lists())
    if field in ("expiry_date", "from_date", "to_date"):
        return st.one_of(edge_dates(), st.sampled_from(window_dates()), generic)
    if field == "strike_price":
        return st.one_of(strikes, generic)
    if field in ("exchange_code", "product_type", "right", "interval"):
        return st.one_of(st.sampled_from(WORD_EDGES), generic)
    if field in ("stock_code", "symbol"):
        return st.one_of(st.sampled_from(CODE_EDGES), generic)
    if field == "api_session":
        return st.one_of(st.sampled_from(TOKEN_EDGES), generic)
    if field == "instruments":
        return st.one_of(st.lists(json_values, max_size=60), generic)
    return generic


@st.composite
def nearly_valid(draw: st.DrawFn, bases: list[dict[str, Any]], fields: tuple[str, ...]) -> Any:
    """A valid body with one change: a field replaced, dropped or renamed, or an extra field."""
    body = dict(draw(st.sampled_from(bases)))
    action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "rename", "extra"]))
    field = draw(st.sampled_from(fields))
    if action == "replace":
        body[field] = draw(field_mutations(field))
    elif action == "drop":
        body.pop(field, None)
    elif action == "rename":
        if field in body:
            renamed = draw(st.sampled_from([field.upper(), field.replace("_", ""), f" {field}"]))
            body[renamed] = body.pop(field)
    else:
        body[draw(texts)] = draw(json_values)
    return body


@st.composite
def spelled(draw: st.DrawFn, words: tuple[str, ...]) -> str:
    """One of ``words`` in any case, with any whitespace around it."""
    word = draw(st.sampled_from(words))
    word = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in word)
    pad = st.text(alphabet=WHITESPACE[:-2], max_size=2)  # str.strip()'s whitespace only
    return draw(pad) + word + draw(pad)


@st.composite
def window_day_texts(draw: st.DrawFn, window: tuple[date, date]) -> str:
    """A day in (or just outside) ``window``, in any accepted form."""
    first, last = window
    offset = draw(st.integers(-2, (last - first).days + 2))
    day = first + timedelta(days=offset)
    form = draw(st.sampled_from(["iso", "isoZ", "time", "offset", "mon", "month", "slash"]))
    iso = day.isoformat()
    if form == "iso":
        return iso
    if form == "isoZ":
        return iso + "Z"
    if form == "time":
        return iso + draw(st.sampled_from(["T09:15", " 23:59:59", "T00:00:00.000Z", "T10:00:00.5"]))
    if form == "offset":
        return iso + draw(st.sampled_from(["T09:15:00+05:30", "T23:00:00-05:00", "T01:00+14:00"]))
    if form in ("mon", "month"):
        name = _month_name(day.month, form)
        return f"{day.day}-{draw(st.sampled_from([name, name.upper()]))}-{day.year}"
    return f"{day.day}/{day.month}/{day.year}"


@st.composite
def combinations(draw: st.DrawFn, serializer: type) -> dict[str, Any]:
    """Every field optional, each drawn from its valid values (blank included): the
    cross-field rules decide."""
    history, expiry = rules.history_window(), rules.expiry_window()
    blank = st.sampled_from(["", " "])
    pools: dict[str, st.SearchStrategy[Any]] = {
        "stock_code": st.sampled_from(["RELIND", " nifty ", "TCS", "M&M", "NIFTY BANK"]),
        "symbol": st.sampled_from(["RELIANCE", "NIFTY", "nifty 50"]),
        "exchange_code": spelled(rules.EXCHANGES),
        "product_type": spelled(rules.QUOTE_PRODUCTS),
        "expiry_date": st.one_of(window_day_texts(expiry), blank),
        "right": st.one_of(spelled(rules.RIGHTS), blank),
        "strike_price": st.one_of(
            st.sampled_from(["24000", "23.5", "0", "0.00", " 100.2500 ", 24000, 23.5, 0, 0.0]),
            blank,
        ),
        "interval": spelled((*rules.INTERVALS, *rules.INTERVAL_ALIASES)),
        "from_date": window_day_texts(history),
        "to_date": window_day_texts(history),
    }
    names = [name for name in serializer().fields if name in pools]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, min_size=1))
    return {name: draw(pools[name]) for name in chosen}


CONTENT_TYPES = [
    "application/json; charset=utf-8", 'application/json;charset="UTF-8"',
    "application/json; charset=latin-1", "application/json; charset=utf-16",
    "application/json; charset=rot13", "application/json; charset=hex",
    "application/json; charset=no-such-codec", "text/plain", "", "application/jsonx",
    "application/x-www-form-urlencoded", "multipart/form-data", "application/vnd.api+json",
]  # fmt: skip
RAW_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1" * 5000, "1e-400", "-0",
    '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', "[" * 17 + "]" * 17,
]  # fmt: skip


@st.composite
def requests(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[str, bytes]:
    """A content type (mostly ``application/json``) and a body from :func:`raw_bodies`."""
    content_type = draw(st.one_of(st.just(JSON), st.just(JSON), st.sampled_from(CONTENT_TYPES)))
    return content_type, draw(raw_bodies(values))


@st.composite
def raw_bodies(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    """A body as bytes: a JSON text (``NaN``/``Infinity`` tokens included), or a broken one."""
    value = draw(values)
    how = draw(
        st.sampled_from(["dumps"] * 6 + ["token", "truncate", "bom", "latin1", "deep", "junk"])
    )
    if how == "token" and isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value, key=repr)))
        value = {**value, key: "\x00RAW\x00"}
        text = json.dumps(value).replace('"\\u0000RAW\\u0000"', draw(st.sampled_from(RAW_TOKENS)))
        return text.encode()
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))  # NaN/Infinity tokens stay in
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: send it escaped, as JSON allows
        text = json.dumps(value)
        raw = text.encode()
    if how == "truncate" and len(raw) > 1:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "latin1":
        return text.encode("latin-1", "replace") + b"\xff\xfe"
    if how == "deep":
        depth = draw(st.integers(MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH + 40))
        return ("[" * depth + text + "]" * depth).encode()
    if how == "junk":
        return raw + draw(st.sampled_from([b",", b"}", b" x", b"\x00", b"//", b"{}"]))
    return raw


# --- What each endpoint and serializer is ------------------------------------------------

QUOTE_FIELDS = (
    "stock_code", "symbol", "exchange_code", "product_type", "expiry_date", "right",
    "strike_price",
)  # fmt: skip
HISTORY_FIELDS = (*QUOTE_FIELDS, "interval", "from_date", "to_date")


class Kind:
    """One request body: its serializer, valid examples and fields."""

    def __init__(
        self,
        serializer: type,
        bases: Callable[[], list[dict[str, Any]]],
        fields: tuple[str, ...],
        *,
        combine: bool = True,
    ) -> None:
        self.serializer, self.bases, self.fields, self.combine = serializer, bases, fields, combine

    def bodies(self) -> st.SearchStrategy[Any]:
        families = [json_values, nearly_valid(self.bases(), self.fields)]
        if self.combine:
            families.append(combinations(self.serializer))
        return st.one_of(*families)


QUOTE = Kind(shapes.QuoteRequestSerializer, valid_quote_bodies, QUOTE_FIELDS)
HISTORY = Kind(shapes.HistoricalRequestSerializer, valid_history_bodies, HISTORY_FIELDS)
CHAIN = Kind(shapes.OptionChainRequestSerializer, valid_chain_bodies, QUOTE_FIELDS)
SESSION = Kind(ApiSessionRequestSerializer, valid_session_bodies, ("api_session",), combine=False)
BATCH = Kind(
    shapes.BatchQuoteRequestSerializer,
    lambda: [{"instruments": valid_quote_bodies()}],
    ("instruments",),
    combine=False,
)
SERIALIZERS = {kind.serializer.__name__: kind for kind in (QUOTE, HISTORY, CHAIN, SESSION, BATCH)}
# path, kind, admin
ENDPOINTS = {
    "quotes": ("/breeze/quotes", QUOTE, False),
    "depth": ("/api/breeze/depth", QUOTE, False),
    "historical": ("/breeze/historical", HISTORY, False),
    "option-chain": ("/breeze/option-chain", CHAIN, False),
    "admin api-session": ("/breeze/admin/api-session", SESSION, True),
}


# --- Fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not EXAMPLES:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(
            f"[properties] examples run ({_examples(request.config)} per property); "
            f"5xx answers: {sum(SERVER_ERRORS.values())} {dict(SERVER_ERRORS) or ''}"
        )
        for name, count in sorted(EXAMPLES.items()):
            reporter.write_line(f"  {name}: {count}")


@pytest.fixture
def proxy(client, live_session, sim, settings, make_key):
    """The real app with a live session, a client key (required) and no limits in the way."""
    sim.configure(rate_per_min=1_000_000, rate_per_day=10_000_000)
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
    client.raise_request_exception = True  # a crash in any middleware fails loudly
    _, key = make_key("properties", quota=1_000_000_000)
    return {"client": client, "sim": sim, "client_key": key}


@pytest.fixture(scope="module")
def request_schemas() -> dict[str, Any]:
    """The request body schema of each serializer, as the OpenAPI schema publishes it."""
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    return {
        name: components[name.removesuffix("Serializer") + "Request"] for name in SERIALIZERS
    }


# --- Checks -------------------------------------------------------------------------------


def _decode(raw: bytes) -> tuple[bool, Any]:
    """What the endpoint sees of ``raw``: DRF reads an empty body as an empty object."""
    if not raw:
        return True, {}
    try:
        return True, load_json(raw)
    except ValueError:  # UnicodeDecodeError included
        return False, None


def _content(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def _post(
    proxy: dict[str, Any], path: str, raw: bytes, *, admin: bool, content_type: str = JSON
) -> Any:
    from django.conf import settings

    headers = (
        {ADMIN_KEY_META: settings.BREEZE_PROXY_ADMIN_KEY}
        if admin
        else {CLIENT_KEY_META: proxy["client_key"]}
    )
    return proxy["client"].generic("POST", path, raw, content_type=content_type, **headers)


def _check_answer(label: str, response: Any, calls: int) -> dict[str, Any] | None:
    """2xx or 4xx, never 5xx; a 4xx in the envelope and without an upstream call."""
    status = response.status_code
    content = _content(response)
    _note(f"{label}: {status} {content[:300]!r}; upstream calls {calls}")
    if status >= 500:
        SERVER_ERRORS[label] += 1
    assert status < 500, content
    assert 200 <= status < 300 or 400 <= status < 500, status
    if status < 400:
        return None
    body = json.loads(content)
    assert isinstance(body, dict), body
    assert body.keys() >= ENVELOPE, body
    assert isinstance(body["code"], str), body
    assert body["code"], body
    assert isinstance(body["message"], str), body
    assert body["message"] == body["error"], body
    if body["code"] not in UPSTREAM_4XX_CODES:
        assert calls == 0, f"{status} {body['code']} after {calls} upstream call(s)"
    return body


def _is_plain_json(content_type: str) -> bool:
    return content_type in (JSON, "application/json; charset=utf-8")


def _too_large(raw: bytes) -> bool:
    from django.conf import settings

    return len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _check_too_large(response: Any) -> None:
    """413 ``request_too_large`` on every endpoint (README), front door included."""
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"


def _verdict(serializer: type, data: Any) -> tuple[bool, ProxyError | None]:
    """``is_valid()``, and the ProxyError it raised instead, if it did (master loaded)."""
    try:
        return serializer(data=data).is_valid(), None
    except ProxyError as exc:
        return False, exc


def _check_endpoint(
    proxy: dict[str, Any], name: str, content_type: str, raw: bytes, *, master: bool = False
) -> None:
    path, kind, admin = ENDPOINTS[name]
    EXAMPLES[f"http {name}{' (master)' if master else ''}"] += 1
    _note(f"sent {content_type!r}: {raw[:500]!r}")
    sim = proxy["sim"]
    before = sim.stats()["total_calls"]
    response = _post(proxy, path, raw, admin=admin, content_type=content_type)
    calls = sim.stats()["total_calls"] - before
    error = _check_answer(name, response, calls)
    if not _is_plain_json(content_type):
        return  # 415, or what the body says where the charset reads it (no oracle here)
    if _too_large(raw):
        _check_too_large(response)
        return
    decoded, data = _decode(raw)
    if not decoded:
        assert response.status_code == 400, response.content
        assert error is not None
        assert error["code"] == "malformed_request", error
        return
    accepted, refusal = _verdict(kind.serializer, data)
    if refusal is not None:  # a name the master does not know (master loaded)
        assert master, refusal
        assert response.status_code == refusal.status_code, _content(response)
        assert error is not None
        assert error["code"] == refusal.code
        return
    if accepted:
        assert response.status_code != 400, _content(response)
    else:
        assert response.status_code == 400, _content(response)
        assert error is not None
        assert error["code"] == "invalid_request", error
        assert calls == 0


def _check_batch(proxy: dict[str, Any], content_type: str, raw: bytes) -> None:
    EXAMPLES["http quotes/batch"] += 1
    _note(f"sent {content_type!r}: {raw[:500]!r}")
    sim = proxy["sim"]
    before = sim.stats()["total_calls"]
    response = _post(proxy, "/breeze/quotes/batch", raw, admin=False, content_type=content_type)
    calls = sim.stats()["total_calls"] - before
    _check_answer("quotes/batch", response, calls)
    if not _is_plain_json(content_type):
        return
    if _too_large(raw):
        _check_too_large(response)
        return
    decoded, data = _decode(raw)
    if not decoded or not shapes.BatchQuoteRequestSerializer(data=data).is_valid():
        assert response.status_code == 400, response.content
        return
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [item["index"] for item in results] == list(range(len(data["instruments"])))
    valid = set()
    for item, result in zip(data["instruments"], results, strict=True):
        EXAMPLES["http quotes/batch items (QuoteRequestSerializer)"] += 1
        serializer = shapes.QuoteRequestSerializer(data=item)
        assert 200 <= result["status"] < 500, result
        if serializer.is_valid():
            valid.add(serializer.query)
            assert result["status"] != 400, result
        else:
            assert result["status"] == 400, result
            assert result["error"].keys() >= ENVELOPE, result
            assert result["error"]["code"] == "invalid_request", result
    assert calls <= len(valid), f"{calls} upstream calls for {len(valid)} valid instruments"


_CANONICAL_STRIKE = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
_KEY_CHARS = re.compile(r"[\x20-\x7e]+")


def _check_contract(contract: Any) -> None:
    assert contract.stock_code == contract.stock_code.strip().upper()
    assert re.fullmatch(r"[A-Z0-9&\-_. ]{1,30}", contract.stock_code), contract
    assert contract.exchange_code in rules.EXCHANGES
    assert contract.right in ("", "call", "put", "others")
    if contract.expiry is not None:
        rules.check_expiry(contract.expiry)  # raises outside the window
        assert contract.exchange_code in rules.FNO_EXCHANGES
    if contract.strike:
        assert _CANONICAL_STRIKE.fullmatch(contract.strike), contract.strike


def _check_query(query: Any) -> None:
    """A valid query is built from canonical, windowed values and has a ``str`` key."""
    key = query.cache_key()
    assert isinstance(key, str)
    assert _KEY_CHARS.fullmatch(key), key
    hash(query)
    if isinstance(query, QuoteQuery):
        _check_contract(query.contract)
    elif isinstance(query, HistoryQuery):
        _check_contract(query.contract)
        assert query.interval in rules.INTERVALS
        assert query.start <= query.end
        for moment in (query.start, query.end):
            assert isinstance(moment, datetime)
            assert moment.tzinfo is None
            rules.check_history_moment(moment)
    else:
        assert isinstance(query, OptionChainQuery)
        assert query.exchange_code in rules.CHAIN_EXCHANGES
        assert query.product_type in rules.CHAIN_PRODUCTS
        if query.expiry is not None:
            rules.check_expiry(query.expiry)
        if query.strike:
            assert _CANONICAL_STRIKE.fullmatch(query.strike), query.strike


def _check_serializer(label: str, serializer: type, data: Any, *, master: bool = False) -> bool:
    EXAMPLES[f"direct {label}"] += 1
    first = serializer(data=data)
    # Must never raise. With a master loaded an unknown name or contract is refused with its
    # own 404, as a ProxyError out of is_valid() (reported: see
    # test_batch_with_a_master_answers_each_item_on_its_own); nothing else may come out.
    refusal: ProxyError | None = None
    try:
        valid = first.is_valid()
    except ProxyError as exc:
        if not master:
            raise
        valid, refusal = False, exc
    if refusal is not None:
        assert refusal.code in ("unknown_instrument", "unknown_contract"), refusal
        assert refusal.status_code == 404
        return False
    assert isinstance(valid, bool)
    again = serializer(data=data)
    assert again.is_valid() is valid  # deterministic
    if not valid:
        assert first.errors
        return False
    if serializer is ApiSessionRequestSerializer:
        token = first.validated_data["api_session"]
        assert re.fullmatch(r"[A-Za-z0-9._~+/=\-]{4,256}", token), token
        return True
    if serializer is shapes.BatchQuoteRequestSerializer:
        assert 1 <= len(first.validated_data["instruments"]) <= 50
        return True
    query = first.query
    _check_query(query)
    assert again.query == query
    assert again.query.cache_key() == query.cache_key()
    return True


_OFFSET_TEXT = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[T ].*[+-]\d{2}:\d{2}\s*$")
_DATE_FIELDS = {"from_date": "history", "to_date": "history", "expiry_date": "expiry"}


def _near_edge(text: str, window: tuple[date, date]) -> bool:
    """A time with an offset, written on a day next to or on an edge of ``window``: the
    offset may carry it across midnight into the window or out of it, which no pattern can
    compute, so the schema leaves those out (it describes offsets inside the edges only)."""
    match = _OFFSET_TEXT.match(text)
    if match is None:
        return False
    first, last = window
    edges = {first - timedelta(days=1), first, last, last + timedelta(days=1)}
    return match[1] in {day.isoformat() for day in edges}


def _offset_on_window_edge(data: dict[str, Any]) -> bool:
    for name, window in _DATE_FIELDS.items():
        value = data.get(name)
        span = rules.history_window() if window == "history" else rules.expiry_window()
        if isinstance(value, str) and _near_edge(value, span):
            return True
    return False


def _order_only(serializer: Any) -> bool:
    """The one history rule JSON Schema cannot state: to_date before from_date."""
    return serializer.errors == {"to_date": ["Must not be before from_date."]}


def _float_token(name: str, data: Any) -> bool:
    """A fractional number as the session token: taken as its str() (reported; see
    test_a_fractional_number_is_no_session_token), which no schema can describe."""
    token = data.get("api_session") if isinstance(data, dict) else None
    return name == "ApiSessionRequestSerializer" and isinstance(token, float)


def _check_schema_agrees(name: str, validator: Any, data: Any) -> None:
    try:
        text = json.dumps(data, allow_nan=False, ensure_ascii=False)
        text.encode()
    except ValueError:  # NaN, a lone surrogate: no JSON body carries them past the parser
        return
    data = json.loads(text)  # what the endpoint would see
    EXAMPLES[f"schema {name}"] += 1
    serializer = SERIALIZERS[name].serializer(data=data)
    accepted = serializer.is_valid()
    described = validator.is_valid(data)
    _note(f"serializer: {accepted} {'' if accepted else serializer.errors}; schema: {described}")
    if accepted and not described:
        assert isinstance(data, dict), data
        assert _offset_on_window_edge(data) or _float_token(name, data), (
            f"the schema refuses what {name} accepts"
        )
    if described and not accepted:
        assert _order_only(serializer), f"the schema describes what {name} refuses"


# --- The properties -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERIALIZERS))
def test_serializer_is_valid_never_raises_and_valid_means_a_canonical_query(request, name):
    kind = SERIALIZERS[name]

    def check(data: Any) -> None:
        _check_serializer(name, kind.serializer, data)

    _run(request.config, check, data=kind.bodies())


def _edge_values(field: str) -> list[Any]:
    if field in ("expiry_date", "from_date", "to_date"):
        dates = window_dates()
        unicode = [_to_unicode_digits(d, v) for d in dates[:4] for v in UNICODE_DIGITS.values()]
        return dates + unicode
    if field == "strike_price":
        return STRIKE_EDGES
    if field in ("stock_code", "symbol"):
        return CODE_EDGES
    if field == "api_session":
        return TOKEN_EDGES
    return WORD_EDGES


@pytest.mark.parametrize("name", sorted(set(SERIALIZERS) - {"BatchQuoteRequestSerializer"}))
def test_every_edge_value_in_every_field(name, request_schemas):
    """The catalogue of edge values, each in each field of each valid body (exhaustive, not
    sampled: the rare ones are the ones that matter); the schema agrees on each."""
    kind = SERIALIZERS[name]
    validator = _validator(request_schemas[name])
    for base in kind.bases():
        assert _check_serializer(f"{name} (edge catalogue)", kind.serializer, base), base
        for field in kind.fields:
            for value in _edge_values(field):
                body = {**base, field: value}
                _check_serializer(f"{name} (edge catalogue)", kind.serializer, body)
                _check_schema_agrees(name, validator, body)


def _validator(schema: dict[str, Any]) -> Any:
    from schemathesis.core.jsonschema import make_validator_for

    return make_validator_for(schema)


@pytest.mark.parametrize("name", sorted(SERIALIZERS))
def test_schema_accepts_exactly_what_the_serializer_accepts(request, request_schemas, name):
    """Schema = validation: a body the published schema calls valid is accepted, one it calls
    invalid is refused (what schemathesis' positive and negative modes rely on)."""
    kind = SERIALIZERS[name]
    validator = _validator(request_schemas[name])

    def check(data: Any) -> None:
        _check_schema_agrees(name, validator, data)

    _run(request.config, check, data=kind.bodies())


def _days_to_check(window: tuple[date, date]) -> Iterator[date]:
    """Every day within 100 of an edge of ``window``, every month's last days and first day,
    and every 7th day between."""
    first, last = window
    day = first - timedelta(days=100)
    while day <= last + timedelta(days=100):
        near_edge = min(abs((day - first).days), abs((day - last).days)) <= 100
        month_turn = day.day >= 28 or day.day == 1
        if near_edge or month_turn or day.toordinal() % 7 == 0:
            yield day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    "today", [None, date(2028, 2, 29), date(2026, 12, 31), date(2027, 1, 1), date(2099, 3, 1)]
)
def test_date_patterns_are_exactly_the_windows(today):
    """Days around and across each window, in every form: the schema pattern matches one
    (in Python's re and in jsonschema_rs alike) exactly when the parser reads it as a day
    inside the window. Feb 29 and year ends as "today" too."""
    today = today or _today()
    for window in (rules.history_window(today), rules.expiry_window(today)):
        pattern = rules.date_pattern(window, blank=True)
        python, ecma = re.compile(pattern), _validator({"type": "string", "pattern": pattern})
        for day in _days_to_check(window):
            iso = day.isoformat()
            forms = [
                iso, f"{iso}Z", f"{iso}T09:15", f" {iso} 23:59:59.5Z ", f"{iso}T00:00:00+05:30",
                f"{iso}T23:59-05:00", f"{iso}+05:30",
                f"{day.day}-{MONTHS[day.month - 1]}-{day.year}",
                f"{day.day:02d}-{LONG_MONTHS[day.month - 1].upper()}-{day.year}",
                f"{day.day}/{day.month}/{day.year}", f"{day.day:02d}/{day.month:02d}/{day.year}",
            ]  # fmt: skip
            for text in forms:
                EXAMPLES["date pattern vs parser"] += 1
                try:
                    parsed: date | None = rules.parse_date_or_datetime(text)[0].date()
                except ValueError:
                    parsed = None
                inside = parsed is not None and window[0] <= parsed <= window[1]
                matches = bool(python.search(text))
                assert matches == ecma.is_valid(text), text
                if not _near_edge(text, window):
                    assert matches == inside, (text, window, parsed)
                elif matches:
                    assert inside, text
        assert python.search("")  # blank: no date given
        assert python.search(" \t")


def test_windows_hold_on_february_29():
    """Five years after Feb 29 there is no Feb 29: the expiry window ends on Feb 28 (it used
    to raise, and every expiry of the day was refused)."""
    leap_day = datetime(2028, 2, 29, 12, tzinfo=clock.IST)
    with mock.patch.object(clock, "now", return_value=leap_day):
        assert rules.expiry_window() == (date(2000, 1, 1), date(2033, 2, 28))
        assert rules.parse_expiry("2033-02-28") == date(2033, 2, 28)
        body = {**valid_quote_bodies()[3], "expiry_date": "2028-03-02"}
        assert shapes.QuoteRequestSerializer(data=body).is_valid()


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_endpoint_answers_2xx_or_enveloped_4xx_without_upstream_call(request, proxy, name):
    def check(sent: tuple[str, bytes]) -> None:
        _check_endpoint(proxy, name, *sent)

    _run(request.config, check, sent=requests(ENDPOINTS[name][1].bodies()))


def test_batch_answers_each_item_like_its_serializer(request, proxy):
    items = QUOTE.bodies()
    well_formed = st.fixed_dictionaries({"instruments": st.lists(items, min_size=1, max_size=8)})
    batches = st.one_of(well_formed, well_formed, well_formed, BATCH.bodies())

    def check(sent: tuple[str, bytes]) -> None:
        _check_batch(proxy, *sent)

    _run(request.config, check, sent=requests(batches))


@pytest.mark.parametrize("depth", [2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 5000])
def test_nesting_past_the_bound_is_malformed_request(proxy, depth):
    brackets = depth - 1  # the body's own object is the first level
    raw = '{"stock_code": "RELIND", "pad": ' + "[" * brackets + "]" * brackets + "}"
    sim = proxy["sim"]
    before = sim.stats()["total_calls"]

    response = _post(proxy, "/breeze/quotes", raw.encode(), admin=False)

    body = _check_answer("nesting", response, sim.stats()["total_calls"] - before)
    assert response.status_code == 400
    assert body is not None
    assert body["code"] == ("malformed_request" if depth > MAX_JSON_DEPTH else "invalid_request")


@pytest.mark.parametrize(
    "path",
    [
        "/breeze/quotes", "/breeze/depth", "/breeze/historical", "/breeze/option-chain",
        "/breeze/quotes/batch", "/breeze/admin/api-session",
    ],
)  # fmt: skip
def test_oversized_body_is_413_everywhere(proxy, path):
    from django.conf import settings

    raw = json.dumps({"stock_code": "X" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}).encode()

    response = _post(proxy, path, raw, admin="admin" in path)

    _check_too_large(response)


# --- With the instrument master loaded (names resolve; unknown ones are 404 before Breeze) ---

MASTER_KINDS = {"quotes": QUOTE, "historical": HISTORY, "option-chain": CHAIN}


@pytest.mark.parametrize("name", sorted(MASTER_KINDS))
def test_with_a_master_loaded_every_body_is_answered_without_5xx(request, proxy, master, name):
    """The same properties with the SecurityMaster loaded: names resolve (symbol or code),
    unknown ones are 404 ``unknown_instrument``/``unknown_contract`` without a Breeze call."""
    kind = MASTER_KINDS[name]
    names = st.sampled_from(["RELIANCE", "reliance ", "NIFTY 50", "BANKNIFTY", "RELIANC", "ZZZZ"])
    named = st.builds(
        lambda body, text: {**body, "symbol": text}, combinations(kind.serializer), names
    )
    bodies = st.one_of(kind.bodies(), named)
    label = f"{kind.serializer.__name__} (master)"

    def check(sent: tuple[str, bytes]) -> None:
        _check_endpoint(proxy, name, *sent, master=True)
        decoded, data = _decode(sent[1])
        if decoded:
            _check_serializer(label, kind.serializer, data, master=True)

    _run(request.config, check, sent=requests(bodies))


def test_batch_with_a_master_answers_each_item_on_its_own(proxy, master):
    body = {"instruments": [{"stock_code": "RELIND"}, {"symbol": "NO SUCH NAME"}]}

    response = _post(proxy, "/breeze/quotes/batch", json.dumps(body).encode(), admin=False)

    assert response.status_code == 200, response.content
    statuses = [item["status"] for item in response.json()["results"]]
    assert statuses == [200, 404], statuses


def test_a_fractional_number_is_no_session_token(proxy):
    sim = proxy["sim"]
    before = sim.stats()["total_calls"]

    response = _post(proxy, "/breeze/admin/api-session", b'{"api_session": 1000.5}', admin=True)

    assert response.status_code == 400, response.content
    assert sim.stats()["total_calls"] == before
