"""The master in the Django admin: read-only, searchable; staff can sync it on demand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from instruments import services
from instruments.models import Instrument, MasterVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MasterVersion)
class MasterVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "loaded_at",
        "is_current",
        "total_rows",
        "rows",
        "skipped",
        "duration_s",
        "source",
    )
    list_filter = ("is_current",)
    actions = ["sync_now"]

    @admin.display(description="Instruments")
    def total_rows(self, obj: MasterVersion) -> int:
        return obj.total_rows

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and request.user.is_staff  # lets the changelist offer the action

    @admin.action(description="Download and load the master now")
    def sync_now(self, request: HttpRequest, queryset: Any) -> None:
        try:
            result = services.instruments_sync()
        except services.SyncFailed as exc:
            self.message_user(request, f"Sync failed: {exc}", messages.ERROR)
            return
        total = sum(result.rows.values())
        self.message_user(request, f"Master {result.status}: {total:,} instruments.")


@admin.register(Instrument)
class InstrumentAdmin(ReadOnlyAdmin):
    list_display = (
        "exchange", "symbol", "stock_code", "token", "kind", "expiry", "strike", "right",
        "lot_size", "tick_size", "company_name",
    )  # fmt: skip
    list_filter = ("exchange", "kind")
    search_fields = ("=symbol", "=stock_code", "=token", "=isin", "^company_name")
    show_full_result_count = False  # counting 100,000 contracts on every page is wasted work
