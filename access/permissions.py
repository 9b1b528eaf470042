"""``HasClientScope``: the key must carry the view's ``required_scope``."""

from __future__ import annotations

from rest_framework import permissions
from rest_framework.request import Request

from access.authentication import AnonymousClient, ClientPrincipal
from access.errors import ScopeDenied


class HasClientScope(permissions.BasePermission):
    """Passes an anonymous client (keys not required) and a key holding ``view.required_scope``.

    A view without ``required_scope`` refuses every key: a new endpoint stays closed until it
    says which scope opens it.
    """

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        if isinstance(user, AnonymousClient):
            return True
        if not isinstance(user, ClientPrincipal):
            return False  # DRF answers 401 with the authenticator's WWW-Authenticate
        scope = getattr(view, "required_scope", None)
        if not scope or scope not in user.scopes:
            raise ScopeDenied(details={"required_scope": scope or ""})
        return True
