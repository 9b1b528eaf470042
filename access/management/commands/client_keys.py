"""``manage.py client_keys create|list|revoke``.

``create`` prints the new key alone on the last line of stdout (``| tail -1`` in scripts);
it is shown only then. ``list`` never shows a key, only its prefix.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from access import selectors, services
from access.models import SCOPES, split_list


class Command(BaseCommand):
    help = "Create, list and revoke client keys for X-Proxy-Key."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key; prints it once, on the last line.")
        create.add_argument("--name", required=True)
        create.add_argument("--scopes", required=True, help=f"comma list of {', '.join(SCOPES)}")
        create.add_argument("--quota", type=int, default=600, help="requests per minute")
        create.add_argument(
            "--calls-per-day",
            type=int,
            default=0,
            help="Breeze calls its requests may cause per IST day (0: BREEZE_KEY_CALLS_PER_DAY)",
        )
        create.add_argument("--origins", default="", help="comma list; empty allows any origin")
        sub.add_parser("list", help="List keys (never the keys themselves).")
        revoke = sub.add_parser("revoke", help="Revoke a key by --name or --prefix.")
        which = revoke.add_mutually_exclusive_group(required=True)
        which.add_argument("--name")
        which.add_argument("--prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        try:
            key, raw = services.client_key_create(
                name=options["name"],
                scopes=split_list(options["scopes"]),
                quota=options["quota"],
                origins=split_list(options["origins"]),
                calls_per_day=options["calls_per_day"],
                created_by="cli:client_keys",
            )
        except ValidationError as exc:
            messages = "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
            )
            raise CommandError(f"The key was not created. {messages}") from exc
        self.stdout.write(
            f"Created client key {key.name!r} ({key.prefix}…), scopes {key.scopes}, "
            f"{key.per_minute_quota}/min."
        )
        self.stdout.write("The key is shown only this once, on the next line; store it now:")
        self.stdout.write(raw)

    def _list(self, options: dict[str, Any]) -> None:
        row = "{:<24} {:<9} {:<42} {:>6} {:<7} {}"
        self.stdout.write(row.format("name", "prefix", "scopes", "quota", "active", "last used"))
        for key in selectors.client_key_list():
            last_used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "-"
            self.stdout.write(
                row.format(
                    key.name,
                    key.prefix,
                    key.scopes,
                    key.per_minute_quota,
                    "yes" if key.is_usable else "no",
                    last_used,
                )
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        key = selectors.client_key_get(name=options["name"], prefix=options["prefix"])
        if key is None:
            which = f"named {options['name']!r}" if options["name"] else "with that prefix"
            raise CommandError(f"No single client key {which}. See `client_keys list`.")
        if services.client_key_revoke(key=key, revoked_by="cli:client_keys"):
            self.stdout.write(f"Revoked client key {key.name!r} ({key.prefix}…).")
        else:
            self.stdout.write(f"Client key {key.name!r} was already revoked.")
