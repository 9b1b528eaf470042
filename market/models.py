"""The candle store: closed candles, fetched once for the whole fleet and kept.

A closed candle never changes, so once any instance has fetched it from Breeze no instance
asks again. Candles are grouped in a :class:`CandleSeries` (one contract at one interval, with
the descriptive fields Breeze repeats on every row); :class:`CandleCoverage` records the
ranges known to be complete, so a range Breeze answered with nothing (a holiday Breeze did not
trade, a day before the listing) is not asked for again either.
"""

from __future__ import annotations

from django.db import models


class CandleSeries(models.Model):
    contract = models.CharField(max_length=120, help_text="Contract.canonical(): code|exch|...")
    interval = models.CharField(max_length=10)
    stock_code = models.CharField(max_length=40)
    exchange = models.CharField(max_length=8)
    # The fields of a Breeze v2 row other than the candle's own (stock_code, exchange_code,
    # and for F&O product_type, expiry_date, right, strike_price), as Breeze writes them.
    fields = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "interval"], name="candle_series_unique")
        ]
        verbose_name_plural = "candle series"

    def __str__(self) -> str:
        return f"{self.contract} {self.interval}"


class Candle(models.Model):
    series = models.ForeignKey(CandleSeries, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="The candle's start (Breeze's datetime, IST).")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()
    volume = models.BigIntegerField()
    open_interest = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "at"], name="candle_unique")]

    def __str__(self) -> str:
        return f"{self.series_id} {self.at:%Y-%m-%d %H:%M:%S}"


class CandleCoverage(models.Model):
    """A range of candle starts whose closed candles are all in the store (maybe none)."""

    series = models.ForeignKey(CandleSeries, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["series", "end"], name="coverage_series_end_idx")]

    def __str__(self) -> str:
        return f"{self.series_id} {self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M}"
