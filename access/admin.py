"""Staff pages: client keys (the key is shown once, when it is made) and the audit trail."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from access import services
from access.models import SCOPES, AuditEvent, ClientKey, split_list


def _staff(request: HttpRequest) -> str:
    return f"staff:{request.user.get_username()}"


class ClientKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ClientKey
        fields = [
            "name",
            "scopes",
            "allowed_origins",
            "per_minute_quota",
            "calls_per_day",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = self.instance.scope_list

    def clean_scopes(self) -> str:
        return ",".join(self.cleaned_data["scopes"])


@admin.register(ClientKey)
class ClientKeyAdmin(admin.ModelAdmin):
    form = ClientKeyForm
    list_display = (
        "name",
        "prefix",
        "scopes",
        "per_minute_quota",
        "calls_per_day",
        "is_active",
        "revoked_at",
        "last_used_at",
        "created_at",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "created_by", "revoked_at", "last_used_at")
    actions = ["revoke_keys"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        editable = ["name", "scopes", "allowed_origins", "per_minute_quota", "calls_per_day"]
        if obj is None:
            return editable
        return [*editable, "is_active", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row stays for the audit trail

    def save_model(self, request: HttpRequest, obj: ClientKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # post_save drops the cached lookup
            return
        try:
            key, raw = services.client_key_create(
                name=obj.name,
                scopes=split_list(obj.scopes),
                quota=obj.per_minute_quota,
                calls_per_day=obj.calls_per_day,
                origins=split_list(obj.allowed_origins),
                created_by=_staff(request),
            )
        except ValidationError as exc:  # the form validated these; only a race gets here
            self.message_user(request, f"The key was not created: {exc}", messages.ERROR)
            return
        obj.pk, obj.prefix = key.pk, key.prefix
        messages.success(
            request,
            f"Client key “{key.name}” created. Copy it now, it is shown only this once: {raw}",
        )

    def response_add(self, request: HttpRequest, obj: ClientKey, post_url_continue: Any = None):
        return HttpResponseRedirect(reverse("admin:access_clientkey_changelist"))

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: Any) -> None:
        revoked = sum(
            services.client_key_revoke(key=key, revoked_by=_staff(request)) for key in queryset
        )
        self.message_user(request, f"Revoked {revoked} client key(s).")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "outcome", "actor", "source_ip", "details")
    list_filter = ("action", "outcome")
    search_fields = ("actor",)
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
