"""`python manage.py purgeguests`: delete guests nobody has used for a while.

Every visitor who picks a name is a user row with a 30-day session; without this, those rows
grow with every visitor for good. Run it daily beside Django's `clearsessions` (docs/DEPLOY.md).
Finished matches keep their players' names (Participant.display_name); a guest still seated in
a waiting or running match is kept.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from games.models import Match


class Command(BaseCommand):
    help = "Delete guest users not seen for --days days (default 30) and not in a live match."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="unused for this many days")

    def handle(self, *args, **options):
        cutoff = timezone.now() - timedelta(days=options["days"])
        live = Match.objects.filter(status__in=[Match.Status.WAITING, Match.Status.RUNNING])
        stale = (
            get_user_model()
            .objects.filter(username__startswith="guest-", is_staff=False)
            .filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff))
            .exclude(participations__match__in=live)
        )
        deleted, _ = stale.delete()
        self.stdout.write(f"deleted {deleted} rows of guests unused for {options['days']} days")
