"""Matches and who sat in them. Writes go through games.services, reads through selectors."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

PUBLIC_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud to a friend
JOIN_CODE_LENGTH = 8  # 32**8, about 10**12: with the guessing lock-out, not findable


def new_public_id() -> str:
    return "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(10))


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def new_seed() -> int:
    return secrets.randbits(31)


class Match(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting"
        RUNNING = "running"
        FINISHED = "finished"
        ABANDONED = "abandoned"

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id)
    game = models.CharField(max_length=32, db_index=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True
    )
    private = models.BooleanField(default=False)
    join_code = models.CharField(max_length=8, null=True, blank=True, unique=True)
    seats = models.PositiveSmallIntegerField()
    tick_rate = models.PositiveSmallIntegerField()
    seed = models.BigIntegerField(default=new_seed)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The creator's client address (games.ratelimit.client_address), for the per-address quota
    # of waiting matches; "" when made outside the HTTP API.
    created_from = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    # Spectators may read and write the match's chat (players always may).
    spectator_chat = models.BooleanField(default=True)
    # The game's per-match options (games.rules.base.Option), every one filled in.
    options = models.JSONField(default=dict, blank=True)
    # Bots take the seats nobody took in time; False: the match waits for people.
    bot_fill = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "matches"

    def __str__(self) -> str:
        return f"{self.game} {self.public_id} ({self.status})"

    @property
    def is_over(self) -> bool:
        return self.status in (self.Status.FINISHED, self.Status.ABANDONED)


class Participant(models.Model):
    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="participations",
    )
    seat = models.PositiveSmallIntegerField()
    display_name = models.CharField(max_length=32)
    bot = models.BooleanField(default=False)
    score = models.IntegerField(null=True, blank=True)
    placement = models.PositiveSmallIntegerField(null=True, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)
    kicked_at = models.DateTimeField(null=True, blank=True)  # staff removed the person

    class Meta:
        ordering = ["match", "seat"]
        constraints = [
            models.UniqueConstraint(fields=["match", "seat"], name="one_participant_per_seat"),
            models.UniqueConstraint(
                fields=["match", "user"], name="one_seat_per_user", condition=models.Q(bot=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} (seat {self.seat})"


class Ban(models.Model):
    """A user who may not play: no ticket, no new match, open sockets closed (games.staff)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="ban")  # fmt: skip
    reason = models.CharField(max_length=200, blank=True, default="")
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ban of {self.user}"


class StaffAction(models.Model):
    """The audit trail: every staff action on the live service, who, when, what and why.
    Written once by games.staff, never edited (the admin shows it read-only)."""

    class Kind(models.TextChoices):
        END = "end", "end a match"
        KICK = "kick", "kick a player"
        BAN = "ban", "ban a user"
        UNBAN = "unban", "unban a user"
        NOTICE = "notice", "send a notice"
        MUTE = "mute", "mute a user"
        UNMUTE = "unmute", "unmute a user"
        DELETE_CHAT = "delete_chat", "delete a chat message"

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    staff_name = models.CharField(max_length=150)  # kept if the account is deleted
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    match = models.ForeignKey(Match, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="staff_actions")  # fmt: skip
    target = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")  # fmt: skip
    detail = models.CharField(max_length=200, blank=True, default="")  # e.g. "seat 2, to a bot"
    reason = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.staff_name}: {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class Mute(models.Model):
    """A user whose chat messages are refused (`muted`); they may still play (games.staff)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="mute")  # fmt: skip
    reason = models.CharField(max_length=200, blank=True, default="")
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"mute of {self.user}"


class ChatMessage(models.Model):
    """One line of chat, in the lobby (match None) or in a match. Staff delete a line by
    marking it (the rooms are told to drop it); the row stays for the audit trail."""

    match = models.ForeignKey(Match, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="chat")  # fmt: skip
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="+")  # fmt: skip
    name = models.CharField(max_length=32)  # as shown when it was said
    seat = models.SmallIntegerField(null=True, blank=True)  # None: the lobby or a spectator
    text = models.CharField(max_length=200)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["match", "-id"], name="chat_room_newest")]

    def __str__(self) -> str:
        return f"{self.name}: {self.text[:40]}"
