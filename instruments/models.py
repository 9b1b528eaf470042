"""Breeze's SecurityMaster, as loaded: one row per instrument, one version per load.

Each load is a :class:`MasterVersion`; its instruments carry its id, and exactly one version is
current. A new master is written next to the current one and made current in the same
transaction that deletes the old rows, so readers only ever see a whole master.
"""

from __future__ import annotations

from django.db import models


class MasterVersion(models.Model):
    """One SecurityMaster.zip, loaded."""

    digest = models.CharField(max_length=64, help_text="SHA-256 of the zip file.")
    source = models.CharField(max_length=500)
    loaded_at = models.DateTimeField()
    duration_s = models.FloatField(default=0.0)
    rows = models.JSONField(default=dict, help_text="Instruments loaded per exchange.")
    skipped = models.JSONField(default=dict, help_text="Malformed rows skipped per member.")
    is_current = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["-loaded_at", "-id"]
        get_latest_by = "loaded_at"
        verbose_name = "security master version"

    def __str__(self) -> str:
        return f"SecurityMaster {self.digest[:12]} ({self.loaded_at:%Y-%m-%d %H:%M})"

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class Instrument(models.Model):
    """An instrument as Breeze names it (``stock_code``) and as the exchange does (``symbol``)."""

    class Kind(models.TextChoices):
        EQUITY = "equity", "Equity"
        INDEX = "index", "Index"
        FUTURE = "future", "Future"
        OPTION = "option", "Option"

    version = models.ForeignKey(MasterVersion, on_delete=models.CASCADE, related_name="+")
    exchange = models.CharField(max_length=8)  # NSE, BSE, NFO, BFO
    stock_code = models.CharField(max_length=40, help_text="Breeze's code (ShortName).")
    symbol = models.CharField(max_length=60, help_text="The exchange's symbol (ExchangeCode).")
    # Symbols, codes and names are stored upper-case, as the master writes them.
    token = models.CharField(
        max_length=40, help_text="The streaming token (index name for indices)."
    )
    company_name = models.CharField(max_length=200, blank=True, default="")
    series = models.CharField(max_length=20, blank=True, default="")
    isin = models.CharField(max_length=20, blank=True, default="")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    right = models.CharField(max_length=8, blank=True, default="")  # call, put, "" otherwise
    lot_size = models.PositiveIntegerField(default=1)
    tick_size = models.DecimalField(max_digits=12, decimal_places=6, default=0)

    class Meta:
        ordering = ["exchange", "symbol", "expiry", "strike", "right"]
        indexes = [
            models.Index(fields=["version", "exchange", "stock_code"], name="instr_code_idx"),
            models.Index(fields=["version", "exchange", "symbol"], name="instr_symbol_idx"),
            models.Index(fields=["version", "exchange", "token"], name="instr_token_idx"),
            models.Index(fields=["version", "isin"], name="instr_isin_idx"),
            # Prefix search (LIKE 'REL%'); the values are stored upper-case. The operator class
            # is PostgreSQL's (other databases ignore it).
            models.Index(
                fields=["symbol"], name="instr_symbol_prefix_idx", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["stock_code"],
                name="instr_code_prefix_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["company_name"],
                name="instr_name_prefix_idx",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.OPTION:
            return f"{self.exchange}:{self.symbol} {self.expiry} {self.strike} {self.right}"
        if self.kind == self.Kind.FUTURE:
            return f"{self.exchange}:{self.symbol} {self.expiry} future"
        return f"{self.exchange}:{self.symbol} ({self.stock_code})"
