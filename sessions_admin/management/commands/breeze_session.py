"""``manage.py breeze_session set|status|regenerate|clear|rotate-keys``.

The token is read from stdin or ``--token-file``, never from argv, because argv is visible to
every user of the machine (``ps``) and lands in shell history. Every action prints the session
state as JSON on stdout and nothing else (``| jq`` works); what happened is said on stderr.
"""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from breeze.errors import ProxyError
from sessions_admin import selectors, services


class Command(BaseCommand):
    help = "Manage the daily Breeze session (the token is read from stdin or a file)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        set_parser = sub.add_parser("set", help="Activate today's token (stdin or --token-file).")
        set_parser.add_argument("--token-file", type=Path, help="File holding the token.")
        sub.add_parser("status", help="Show the session state as JSON.")
        sub.add_parser("regenerate", help="Exchange the stored token again with Breeze.")
        sub.add_parser("clear", help="Clear the live session.")
        sub.add_parser(
            "rotate-keys",
            help="Re-encrypt stored sessions with the first BREEZE_SESSION_ENCRYPTION_KEYS key.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "set":
                services.breeze_session_activate(
                    api_session=self._read_token(options.get("token_file")),
                    activated_by="cli:set",
                )
                self.stderr.write("Breeze session activated until midnight IST.")
            elif action == "regenerate":
                services.breeze_session_regenerate(activated_by="cli:regenerate")
                self.stderr.write("Breeze session regenerated.")
            elif action == "clear":
                count = services.breeze_session_clear(cleared_by="cli:clear")
                self.stderr.write(f"Cleared {count} live session(s).")
            elif action == "rotate-keys":
                done = services.breeze_session_reencrypt()
                self.stderr.write(
                    f"Re-encrypted {done['reencrypted']} stored session(s) with the newest key; "
                    f"wiped the secrets of {done['wiped']} ended session(s)."
                )
                if done["unreadable"]:
                    self.stderr.write(
                        f"{done['unreadable']} session(s) could not be read with any configured "
                        "key and were wiped: activate today's session again."
                    )
            self._print_status()
        except ProxyError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc

    def _print_status(self) -> None:
        self.stdout.write(json.dumps(selectors.breeze_session_status(), indent=2))

    def _read_token(self, token_file: Path | None) -> str:
        if token_file is not None:
            try:
                return token_file.read_text().strip()
            except OSError as exc:
                raise CommandError(f"Cannot read the token file: {exc.strerror}") from exc
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass("Today's Breeze API session token: ").strip()
        token = sys.stdin.readline().strip()
        if not token:
            raise CommandError("No token on stdin. Pipe it in, or pass --token-file PATH.")
        return token
