"""What the proxy asks Breeze: one :class:`Operation` name and one frozen query type per operation.

Serializers build these from client input (validated, canonical: codes upper-case, dates as
``date``/naive IST ``datetime``, strikes as plain decimal text), and nothing below them sees a
dict of parameters again. Their :meth:`cache_key` is the one canonical key of an answer, shared
by the ready-answer path and the gateway's cache, so the same answer never has two keys and a
key can only ever be built from validated values. Only the gateway client turns a query into
the SDK's arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar


class Operation(StrEnum):
    """Every upstream operation, by the name logs and metrics use."""

    QUOTE = "quote"
    DEPTH = "depth"
    HISTORY = "history"
    OPTION_CHAIN = "option_chain"
    SESSION_EXCHANGE = "session_exchange"


@dataclass(frozen=True, slots=True)
class Contract:
    """One instrument as Breeze names it: cash (``expiry`` None) or one F&O contract."""

    stock_code: str
    exchange_code: str = "NSE"
    product_type: str = "cash"
    expiry: date | None = None
    right: str = ""  # "call", "put", "others" (futures) or "" (cash)
    strike: str = ""  # plain decimal text: "24000", "23.5"; "0" for futures, "" for cash
    # The exchange symbol the caller used (RELIANCE for RELIND); shown, never part of a key.
    symbol: str = field(default="", compare=False)

    @property
    def is_derivative(self) -> bool:
        return self.expiry is not None

    def canonical(self) -> str:
        expiry = self.expiry.isoformat() if self.expiry else ""
        return "|".join(
            (
                self.stock_code,
                self.exchange_code,
                self.product_type,
                expiry,
                self.right,
                self.strike,
            )
        )


@dataclass(frozen=True, slots=True)
class QuoteQuery:
    """A quote (also what depth is cut from: Breeze's REST quote carries the best bid/offer)."""

    operation: ClassVar[Operation] = Operation.QUOTE
    contract: Contract

    def cache_key(self) -> str:
        return f"{self.operation}:{self.contract.canonical()}"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Candles of one contract and interval between two IST wall-clock times (inclusive)."""

    operation: ClassVar[Operation] = Operation.HISTORY
    contract: Contract
    interval: str  # "1second", "1minute", "5minute", "30minute" or "1day"
    start: datetime  # naive, IST wall clock (Breeze reads times as IST)
    end: datetime

    def cache_key(self) -> str:
        return (
            f"{self.operation}:{self.contract.canonical()}:{self.interval}:"
            f"{self.start.isoformat()}:{self.end.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class OptionChainQuery:
    """Every strike of one expiry and side, or one strike across sides (Breeze's rules)."""

    operation: ClassVar[Operation] = Operation.OPTION_CHAIN
    stock_code: str
    exchange_code: str = "NFO"
    product_type: str = "options"
    expiry: date | None = None
    right: str = ""
    strike: str = ""
    symbol: str = field(default="", compare=False)

    def cache_key(self) -> str:
        expiry = self.expiry.isoformat() if self.expiry else ""
        return (
            f"{self.operation}:{self.stock_code}|{self.exchange_code}|{self.product_type}|"
            f"{expiry}|{self.right}|{self.strike}"
        )


Query = QuoteQuery | HistoryQuery | OptionChainQuery
