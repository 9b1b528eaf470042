"""Calls to Breeze through the SDK, with every failure turned into a typed error.

``session_exchange`` turns a person's daily API session token into the user id and session key
Breeze derives from it (one ``customerdetails`` call). ``BreezeClient`` is rebuilt from those two
values in any worker or instance without calling ``customerdetails`` again: the token may be
single-use, and every call spends the shared rate budget.

This is the only module that builds the SDK's arguments, from the typed queries of
:mod:`breeze.operations`; the SDK's wire formats (its date strings, its names for intervals)
live here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import requests
from django.conf import settings

from breeze import telemetry
from breeze.clock import seconds_to_ist_midnight
from breeze.gateway import errors
from breeze.gateway.sdk import LoadedSdk, load_sdk
from breeze.operations import (
    Contract,
    HistoryQuery,
    Operation,
    OptionChainQuery,
    Query,
    QuoteQuery,
)

logger = logging.getLogger("breeze.gateway")

Rows = list[dict[str, Any]]

_SESSION_ERRORS = {"Invalid session.", "Resource not available.", "Session key is expired."}
_ACTIVATION_TOKEN_ERRORS = _SESSION_ERRORS | {"Request Object is Null"}
_NO_DATA_ERRORS = {"Historical Data Fail", "No Data Found", "Result Not Found"}


@dataclass(frozen=True)
class SessionCredentials:
    """What Breeze derives from the daily token; enough to rebuild a client anywhere."""

    user_id: str
    session_key: str

    def __repr__(self) -> str:  # never let the key reach a log line or a traceback
        return f"SessionCredentials(user_id={self.user_id!r}, session_key='***')"


# --- the SDK's wire formats ---------------------------------------------------------------


def breeze_timestamp(moment: datetime) -> str:
    """Dates as the SDK sends them: ISO with milliseconds and a ``Z`` Breeze ignores (it reads
    the wall clock as IST, BREEZE_API.md §3.3)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def breeze_expiry(day: date | None) -> str:
    """Expiry in the form the SDK's README sends (06:00 Z on the expiry day)."""
    return f"{day.isoformat()}T06:00:00.000Z" if day else ""


def _contract_args(contract: Contract) -> dict[str, str]:
    return {
        "stock_code": contract.stock_code,
        "exchange_code": contract.exchange_code,
        "product_type": contract.product_type,
        "expiry_date": breeze_expiry(contract.expiry),
        "right": contract.right,
        "strike_price": contract.strike,
    }


# --- failures -------------------------------------------------------------------------------


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _transport_error(exc: BaseException, sdk: LoadedSdk) -> errors.BreezeError:
    """Map an exception the SDK raised (wrapping ours) to what actually went wrong."""
    chain = _exception_chain(exc)
    if any(isinstance(e, requests.Timeout | TimeoutError) for e in chain):
        return errors.UpstreamTimeout(details=f"no answer within {sdk.transport.timeout_s:g} s")
    if any(isinstance(e, requests.ConnectionError | ConnectionError) for e in chain):
        return errors.UpstreamUnavailable(details="connection to Breeze failed or was dropped")
    response = sdk.transport.last_response
    if response is not None and any(isinstance(e, json.JSONDecodeError) for e in chain):
        if response.status_code >= 500:
            return errors.UpstreamUnavailable(
                details=f"Breeze answered HTTP {response.status_code}"
            )
        return errors.UpstreamBadResponse(details=f"HTTP {response.status_code}, body is not JSON")
    return errors.UpstreamBadResponse(details=type(exc).__name__)


def _envelope_error(result: dict[str, Any], *, activation: bool = False) -> errors.BreezeError:
    status = result.get("Status")
    error = str(result.get("Error") or "")
    if status == 5 or error.startswith("Limit exceed"):
        per_day = "per day" in error
        retry = seconds_to_ist_midnight() if per_day else 60.0
        return errors.UpstreamRateLimited(details=error, retry_after=retry)
    if error == "Public Key does not exist.":
        return errors.CredentialsRejected(details=error)
    if activation and error in _ACTIVATION_TOKEN_ERRORS:
        return errors.SessionTokenRejected(details=error)
    if error in _SESSION_ERRORS:
        return errors.SessionExpired(details=error)
    if error in _NO_DATA_ERRORS:
        return errors.NoData(details=error)
    if result.get("Success") == "" and status == 500 and error:
        return errors.InvalidUpstreamRequest(error, details=error)
    return errors.UpstreamRejected(details=error or f"Breeze answered Status {status}")


def _rows(result: Any) -> Rows:
    """The ``Success`` list of a Breeze envelope, or the typed error it stands for."""
    if result is None:
        raise errors.SessionMissing()
    if not isinstance(result, dict):
        raise errors.UpstreamBadResponse(details="the answer is not a JSON object")
    if result.get("Status") == 200 and not result.get("Error"):
        success = result.get("Success")
        if isinstance(success, list):
            if not success:
                raise errors.NoData()
            return success
        raise errors.UpstreamBadResponse(details="Success is not a list")
    raise _envelope_error(result)


def _call(operation: Operation, fn: Callable[[], Any], sdk: LoadedSdk) -> Any:
    """Run one SDK call: time it, log it, and translate transport failures."""
    started = time.perf_counter()
    outcome = "ok"
    try:
        return fn()
    except errors.BreezeError as exc:
        outcome = exc.code
        raise
    except Exception as exc:
        translated = _transport_error(exc, sdk)
        outcome = translated.code
        raise translated from exc
    finally:
        elapsed = time.perf_counter() - started
        telemetry.record_upstream(operation.value, outcome, elapsed)
        logger.info(
            "upstream call",
            extra={
                "operation": operation.value,
                "duration_ms": round(elapsed * 1000, 2),
                "outcome": outcome,
            },
        )


# --- the calls ------------------------------------------------------------------------------


def session_exchange(*, api_session: str) -> SessionCredentials:
    """Validate a daily token with one ``customerdetails`` call; no SecurityMaster download."""
    sdk = load_sdk()
    breeze = sdk.BreezeConnect(api_key=settings.BREEZE_API_KEY)
    breeze.session_key = api_session
    breeze.secret_key = settings.BREEZE_API_SECRET

    def exchange() -> None:
        sdk.transport.clear_last_response()
        try:
            breeze.api_util()
        except Exception as exc:
            response = sdk.transport.last_response
            if response is None:
                raise  # a transport failure: _call translates it
            try:
                body = response.json()
            except ValueError:
                raise exc from None
            if isinstance(body, dict) and body.get("Error"):
                raise _envelope_error(body, activation=True) from None
            raise errors.UpstreamBadResponse(
                details="customerdetails answer had no session"
            ) from None

    _call(Operation.SESSION_EXCHANGE, exchange, sdk)
    return SessionCredentials(user_id=str(breeze.user_id), session_key=str(breeze.session_key))


class BreezeClient:
    """One SDK client for one stored session. Safe to share between threads (read-only calls)."""

    def __init__(self, credentials: SessionCredentials) -> None:
        self._sdk = load_sdk()
        breeze = self._sdk.BreezeConnect(api_key=settings.BREEZE_API_KEY)
        breeze.user_id = credentials.user_id
        breeze.session_key = credentials.session_key
        breeze.secret_key = settings.BREEZE_API_SECRET
        # What generate_session would build, minus its customerdetails call and downloads.
        handler = self._sdk.ApificationBreeze(breeze)
        handler.hostname = settings.BREEZE_API_URL
        breeze.api_handler = handler
        self._breeze = breeze

    def answer(self, query: Query) -> Rows:
        """The rows Breeze answers ``query`` with, or the typed error it stands for."""
        if isinstance(query, QuoteQuery):
            return self.quote(query)
        if isinstance(query, HistoryQuery):
            return self.history(query)
        return self.option_chain(query)

    def quote(self, query: QuoteQuery) -> Rows:
        args = _contract_args(query.contract)
        call = lambda: self._breeze.get_quotes(**args)  # noqa: E731
        return _rows(_call(Operation.QUOTE, call, self._sdk))

    def history(self, query: HistoryQuery) -> Rows:
        args = _contract_args(query.contract)
        call = lambda: self._breeze.get_historical_data_v2(  # noqa: E731
            interval=query.interval,
            from_date=breeze_timestamp(query.start),
            to_date=breeze_timestamp(query.end),
            **args,
        )
        return _rows(_call(Operation.HISTORY, call, self._sdk))

    def option_chain(self, query: OptionChainQuery) -> Rows:
        call = lambda: self._breeze.get_option_chain_quotes(  # noqa: E731
            stock_code=query.stock_code,
            exchange_code=query.exchange_code,
            product_type=query.product_type,
            expiry_date=breeze_expiry(query.expiry),
            right=query.right,
            strike_price=query.strike,
        )
        return _rows(_call(Operation.OPTION_CHAIN, call, self._sdk))


_clients_lock = threading.Lock()
_client_slot: tuple[tuple[str, str, str], BreezeClient] | None = None


def client_for(credentials: SessionCredentials) -> BreezeClient:
    """The process's client for this session, built once (a new session replaces it)."""
    global _client_slot  # a per-process object cache; the session itself lives in the DB
    key = (credentials.user_id, credentials.session_key, settings.BREEZE_API_URL)
    slot = _client_slot
    if slot is not None and slot[0] == key:
        return slot[1]
    with _clients_lock:
        if _client_slot is None or _client_slot[0] != key:
            _client_slot = (key, BreezeClient(credentials))
        return _client_slot[1]
