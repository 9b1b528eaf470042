"""``manage.py instruments sync [--file PATH] [--url URL]`` and ``manage.py instruments status``.

Both print JSON on stdout and nothing else; what happened is logged on stderr. A sync that
cannot download or read the master says why and exits non-zero, leaving the previous master
in use.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from instruments import selectors, services


class Command(BaseCommand):
    help = "Load Breeze's SecurityMaster.zip into the instrument table, or show what is loaded."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sync = sub.add_parser("sync", help="Download (or read) and load the master.")
        source = sync.add_mutually_exclusive_group()
        source.add_argument("--file", type=Path, help="A SecurityMaster.zip on disk.")
        source.add_argument(
            "--url", help="Download from here (default BREEZE_SECURITY_MASTER_URL)."
        )
        sub.add_parser("status", help="The master in use, as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self.stdout.write(json.dumps(selectors.instruments_status(), indent=2))
            return
        try:
            result = services.instruments_sync(url=options.get("url"), file=options.get("file"))
        except services.SyncFailed as exc:
            raise CommandError(f"The master was not loaded: {exc}") from exc
        self.stdout.write(json.dumps(result.as_dict(), indent=2))
