"""`python manage.py loadtest`: bot players against a deployment, for operators.

Runs the benchmark's load generator (games/loadtest/loadgen.py) with the same progress display and
summary as `python -m games.loadtest.loadgen`. It plays for real on the target: every bot creates a
guest user and takes a seat in a Bench Arena match there (an unlisted game, so the lobby stays
clean), and those users and matches stay in the target's database afterwards.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from games.loadtest.loadgen import WorkerError, run_load


class Command(BaseCommand):
    help = (
        "Load test a deployment with bot players that join through the HTTP API and play over "
        "WebSockets, printing latency, delivery and join times. It creates guest users and "
        "Bench Arena matches on the target; run it against a deployment you own."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            action="append",
            required=True,
            help="base URL of the site, e.g. https://play.example.com; repeat it to spread the "
            "players round-robin over several web processes",
        )
        parser.add_argument(
            "--players", type=int, required=True, help="bots to join (each a new guest user)"
        )
        parser.add_argument(
            "--duration", type=float, default=30.0, help="seconds measured after all joined"
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="load generator processes (one process drives up to ~1,000 bots on a core)",
        )
        parser.add_argument("--json", dest="json_path", help="also write every window here")

    def handle(self, *args, **options):
        for url in options["url"]:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise CommandError(
                    f"--url {url!r}: give the site's base URL, http(s)://host[:port]"
                )
        if options["players"] < 1 or options["processes"] < 1 or options["duration"] <= 0:
            raise CommandError("--players, --processes and --duration must be positive")
        try:
            run_load(
                urls=options["url"],
                players=options["players"],
                duration=options["duration"],
                processes=options["processes"],
                kind="gameserver",
                json_path=options["json_path"],
                write=self.stdout.write,
            )
        except WorkerError as error:
            raise CommandError(f"the load generator failed: {error}") from None
