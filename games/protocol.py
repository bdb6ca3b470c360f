"""The wire: client message schema, server message encoding, close codes, and the type strings
of every channel-layer message. docs/PROTOCOL.md describes this module."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec

SUBPROTOCOL_JSON = "gameserver.v1.json"
TICKET_PREFIX = "ticket."

# Close codes (docs/PROTOCOL.md says what a client should do on each).
CLOSE_MATCH_OVER = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_SERVER_ERROR = 1011
CLOSE_TRY_AGAIN = 1013
CLOSE_BAD_INPUT = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_MATCH_GONE = 4404
CLOSE_SLOW_CONSUMER = 4408
CLOSE_REPLACED = 4409
CLOSE_RATE_LIMITED = 4429

# Channel-layer message types; each names its handler ("engine.join" -> engine_join).
ENGINE_WATCH = "engine.watch"  # hub -> engine: send me these matches' frames (and: I'm alive)
ENGINE_UNWATCH = "engine.unwatch"  # hub -> engine: my last local player of it left
ENGINE_JOIN = "engine.join"  # consumer -> engine: a player's socket is here
ENGINE_DROP = "engine.drop"  # consumer -> engine: that socket is gone
ENGINE_INPUTS = "engine.inputs"  # hub -> engine: inputs of one flush, in arrival order
HUB_FRAMES = "hub.frames"  # engine -> hub: this tick's frames of the matches it asked for
HUB_OWNER = "hub.owner"  # engine -> all hubs: I now own this match, re-register
PLAYER_WELCOME = "player.welcome"  # engine -> consumer
PLAYER_REFUSED = "player.refused"  # engine -> consumer: cannot play this match
HUBS_GROUP = "gameserver.hubs"

MAX_INT = 2**31 - 1


class ProtocolError(Exception):
    """A client message that cannot be accepted; `close` is set when the socket must close."""

    def __init__(self, code: str, message: str, close: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close


class _ClientMessage(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    pass


class Auth(_ClientMessage, tag="auth"):
    ticket: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class Input(_ClientMessage, tag="input"):
    ack: Annotated[int, msgspec.Meta(ge=-1, le=MAX_INT)]
    data: dict[str, Any]


class Ack(_ClientMessage, tag="ack"):
    ack: Annotated[int, msgspec.Meta(ge=-1, le=MAX_INT)]


class Ping(_ClientMessage, tag="ping"):
    id: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]


ClientMessage = Auth | Input | Ack | Ping
_client_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()


def decode_client(text: str | None, *, max_bytes: int) -> ClientMessage:
    if text is None:
        raise ProtocolError("binary_not_supported", f"send JSON text frames on {SUBPROTOCOL_JSON}")
    if len(text) > max_bytes:
        raise ProtocolError(
            "too_large", f"messages are limited to {max_bytes} bytes", close=CLOSE_BAD_INPUT
        )
    try:
        return _client_decoder.decode(text)
    except msgspec.ValidationError as error:
        raise ProtocolError("bad_message", f"invalid message: {error}") from None
    except msgspec.DecodeError as error:
        raise ProtocolError("bad_json", f"not a JSON object: {error}") from None


def encode(message: dict[str, Any]) -> str:
    """One JSON text frame; the engine calls this once per tick per match, not per player."""
    return _encoder.encode(message).decode()


def now_ms() -> float:
    return round(time.time() * 1000, 1)


def error_message(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})
