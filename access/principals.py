"""Who is calling: ``request.user`` of the market endpoints and the stream.

Each principal names the quota counter its requests are counted in, and the budget account
its upstream calls are charged to (``breeze.gateway.budget``), so the rest of the proxy never
needs to know which kind of caller it serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from breeze.gateway.budget import Account


@dataclass(frozen=True)
class ClientPrincipal:
    """A request that presented a valid client key."""

    key_id: int
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    quota: int = 600
    counter: str = ""  # names the quota counter (from the digest, known before the lookup)
    calls_per_day: int = 0  # the key's share of the fleet's daily Breeze calls (0: default)
    calls_per_minute: int = 0
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self) -> str:
        return f"client-key:{self.name}"

    @property
    def account(self) -> Account:
        return Account(
            name=f"key:{self.key_id}", per_minute=self.calls_per_minute, per_day=self.calls_per_day
        )


@dataclass(frozen=True)
class AdminPrincipal:
    """The admin key presented as a client key (the seed frontend keeps one key in one slot):
    every scope, a quota of its own, and the same lockout as the admin endpoints."""

    scopes: frozenset[str] = field(default_factory=frozenset)
    quota: int = 600
    calls_per_day: int = 0
    calls_per_minute: int = 0
    counter: str = "admin"
    name: str = "admin-key"
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self) -> str:
        return "admin-key"

    @property
    def account(self) -> Account:
        return Account(name="admin", per_minute=self.calls_per_minute, per_day=self.calls_per_day)


@dataclass(frozen=True)
class AnonymousClient:
    """A request without a key where keys are not required (the embedded default): every
    scope, limited per address like a key (``BREEZE_OPEN_QUOTA`` requests a minute)."""

    address: str = "unknown"
    quota: int = 0  # 0: not limited
    calls_per_day: int = 0
    calls_per_minute: int = 0
    is_authenticated: bool = False
    is_anonymous: bool = True

    def __str__(self) -> str:
        return f"anonymous:{self.address}"

    @property
    def counter(self) -> str:
        return f"ip:{self.address}"

    @property
    def account(self) -> Account:
        return Account(
            name=f"ip:{self.address}", per_minute=self.calls_per_minute, per_day=self.calls_per_day
        )


Principal = ClientPrincipal | AdminPrincipal | AnonymousClient
