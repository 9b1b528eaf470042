"""The staff page: paste today's token, see the session's state and time left.

Adding a "Breeze session" in the admin runs the same activation service as the API and the
management command; the token field is a password input that is never rendered back, and
every stored row is read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from breeze.gateway.errors import BreezeError
from sessions_admin import services
from sessions_admin.models import BreezeSession


class ActivateSessionForm(forms.ModelForm):
    api_session_token = forms.CharField(
        label="Today's API session token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The apisession value from the Breeze login redirect. It is validated with "
        "Breeze, stored encrypted, and never shown again.",
        max_length=256,
    )

    class Meta:
        model = BreezeSession
        fields: list[str] = []

    def clean_api_session_token(self) -> str:
        try:
            return services.clean_session_token(self.cleaned_data["api_session_token"])
        except services.InvalidSessionToken as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(BreezeSession)
class BreezeSessionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "breeze_user_id",
        "activated_by",
        "activated_at",
        "expires_at",
        "time_left",
        "last_error",
    )
    list_filter = ("status",)
    readonly_fields = (
        "status",
        "breeze_user_id",
        "activated_by",
        "activated_at",
        "expires_at",
        "time_left",
        "ended_at",
        "last_error",
        "last_error_at",
    )
    actions = ["clear_sessions"]

    @admin.display(description="Time left")
    def time_left(self, obj: BreezeSession) -> str:
        seconds = obj.seconds_left(timezone.now())
        if seconds <= 0:
            return "—"
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = ActivateSessionForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return ["api_session_token"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: BreezeSession, form: Any, change: bool) -> None:
        try:
            session = services.breeze_session_activate(
                api_session=form.cleaned_data["api_session_token"],
                activated_by=f"staff:{request.user.get_username()}",
            )
        except BreezeError as exc:
            # The failure was recorded; show it and keep the previous session live.
            self.message_user(request, f"Activation failed: {exc.message}", messages.ERROR)
            failed = BreezeSession.objects.filter(status=BreezeSession.Status.FAILED).first()
            obj.pk = failed.pk if failed else None
            return
        obj.pk = session.pk
        obj.status = session.status
        self.message_user(request, "Breeze session activated until midnight IST.")

    def response_add(self, request: HttpRequest, obj: BreezeSession, post_url_continue=None):
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        return HttpResponseRedirect(reverse("admin:sessions_admin_breezesession_changelist"))

    @admin.action(description="Clear the live session")
    def clear_sessions(self, request: HttpRequest, queryset: Any) -> None:
        count = services.breeze_session_clear(cleared_by=f"staff:{request.user.get_username()}")
        self.message_user(request, f"Cleared {count} live session(s).")
