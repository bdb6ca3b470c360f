"""The wire: client message schema, server message encoding, close codes, and the typed
channel-layer messages between hubs and engines. docs/PROTOCOL.md describes this module."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec

from games import nesting

SUBPROTOCOL_JSON = "gameserver.v1.json"
SUBPROTOCOL_MSGPACK = "gameserver.v1.msgpack"
TICKET_PREFIX = "ticket."

# Close codes (docs/PROTOCOL.md says what a client should do on each).
CLOSE_MATCH_OVER = 1000
# 1001, 1011 and 1012 (uvicorn's on shutdown) come from the web server or a proxy, not from here.
CLOSE_TRY_AGAIN = 1013
CLOSE_BAD_INPUT = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_MATCH_GONE = 4404
CLOSE_SLOW_CONSUMER = 4408
CLOSE_REPLACED = 4409
CLOSE_SEAT_GONE = 4410
CLOSE_RATE_LIMITED = 4429

MAX_INT = 2**31 - 1

# How a consumer is written to (consumer.wire): WebSocket text or binary frames, or SSE.
WIRE_TEXT, WIRE_BINARY, WIRE_SSE = 0, 1, 2

# Who a frame is for: everyone in the match, or, when a game shows spectators another view or
# a delayed one, the players only or the spectators only.
VIEW_ALL, VIEW_PLAYERS, VIEW_SPECTATORS = 0, 1, 2
# A game with hidden information gives each seat its own view: VIEW_SEAT + seat.
VIEW_SEAT = 16


EVENT_LAG_FRAMES = 32  # an event-driven match's frames are its steps, not ticks


def lag_frames(flow_lag: float, match: dict[str, Any]) -> int:
    """How far a socket's ack may trail the newest frame (FLOW_LAG seconds of ticks)."""
    if match.get("kind") == "events":
        return EVENT_LAG_FRAMES
    return round(flow_lag * match["tick_rate"])


def views_of(*, spectator: bool, seat: int) -> frozenset[int]:
    """The views whose frames a socket gets, besides VIEW_ALL (games.hub checks it)."""
    if spectator:
        return frozenset((VIEW_SPECTATORS,))
    return frozenset((VIEW_PLAYERS, VIEW_SEAT + seat))


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


class Chat(_ClientMessage, tag="chat"):
    """A line of chat; its length and content are checked by games.chat (a clear error)."""

    text: Annotated[str, msgspec.Meta(max_length=1000)]


ClientMessage = Auth | Input | Ack | Ping | Chat
_client_decoder = msgspec.json.Decoder(ClientMessage)
_client_msgpack_decoder = msgspec.msgpack.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()
_msgpack_encoder = msgspec.msgpack.Encoder()


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ProtocolError(
            "too_large", f"messages are limited to {max_bytes} bytes", close=CLOSE_BAD_INPUT
        )


MAX_NESTING = 16  # levels of arrays and objects in an input's data
FRAME_NESTING = MAX_NESTING + 1  # and the message around it


def _too_deep() -> ProtocolError:
    return ProtocolError("bad_message", f"invalid message: nested more than {MAX_NESTING} deep")


def _check_nesting(value: Any, levels: int) -> None:
    """A game's rules (and the engine) never see a pathologically nested input."""
    if isinstance(value, dict | list):
        if levels == 0:
            raise _too_deep()
        for item in value.values() if isinstance(value, dict) else value:
            _check_nesting(item, levels - 1)


def decode_client(text: str | None, *, max_bytes: int) -> ClientMessage:
    """A client message from a JSON text frame (gameserver.v1.json)."""
    if text is None:
        raise ProtocolError("binary_not_supported", f"send JSON text frames on {SUBPROTOCOL_JSON}")
    # Characters, not bytes, until a message could be over: then count its UTF-8 bytes.
    _check_size(len(text) if len(text) * 4 <= max_bytes else len(text.encode()), max_bytes)
    try:
        return _client_decoder.decode(text)
    except RecursionError:
        raise _too_deep() from None
    except msgspec.ValidationError as error:
        refusal = ProtocolError("bad_message", f"invalid message: {error}")
    except msgspec.DecodeError as error:
        refusal = ProtocolError("bad_json", f"not a JSON object: {error}")
    if nesting.json_depth(text, FRAME_NESTING) > FRAME_NESTING:
        raise _too_deep()  # whatever else is wrong with it: the answer is the frame's alone
    raise refusal


def decode_client_msgpack(data: bytes | None, *, max_bytes: int) -> ClientMessage:
    """A client message from a msgpack binary frame (gameserver.v1.msgpack)."""
    if data is None:
        raise ProtocolError(
            "text_not_supported", f"send msgpack binary frames on {SUBPROTOCOL_MSGPACK}"
        )
    _check_size(len(data), max_bytes)
    try:
        return _client_msgpack_decoder.decode(data)
    except RecursionError:
        raise _too_deep() from None
    except msgspec.ValidationError as error:
        refusal = ProtocolError("bad_message", f"invalid message: {error}")
    except (msgspec.DecodeError, ValueError) as error:  # msgspec raises UnicodeDecodeError too
        refusal = ProtocolError("bad_msgpack", f"not a msgpack map: {error}")
    if nesting.msgpack_depth(data, FRAME_NESTING) > FRAME_NESTING:
        raise _too_deep()
    raise refusal


def encode(message: dict[str, Any]) -> str:
    """One JSON text frame; the engine calls this once per tick per match, not per player."""
    return _encoder.encode(message).decode()


def encode_msgpack(message: dict[str, Any]) -> bytes:
    """The same message as one msgpack binary frame."""
    return _msgpack_encoder.encode(message)


class Codec:
    """One sub-protocol: the same messages as JSON text frames or msgpack binary frames."""

    def __init__(self, subprotocol: str, binary: bool):
        self.subprotocol = subprotocol
        self.binary = binary
        # The shortest input nested MAX_NESTING + 1 deep: its envelope plus a byte (msgpack)
        # or two (JSON) a level. Normal inputs are shorter and skip the nesting walk.
        self.shortest_deep = 23 + MAX_NESTING if binary else 35 + 2 * MAX_NESTING

    def decode(self, text: str | None, data: bytes | None, max_bytes: int) -> ClientMessage:
        if self.binary:
            message = decode_client_msgpack(data, max_bytes=max_bytes)
        else:
            message = decode_client(text, max_bytes=max_bytes)
        # Only a long input can nest more than MAX_NESTING deep: the usual ones skip the walk.
        if isinstance(message, Input) and len(data or text or "") > self.shortest_deep:
            _check_nesting(message.data, MAX_NESTING)
        return message

    def send_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """The ASGI event that sends `message` on a socket speaking this sub-protocol."""
        if self.binary:
            return {"type": "websocket.send", "bytes": encode_msgpack(message)}
        return {"type": "websocket.send", "text": encode(message)}


CODECS = {
    SUBPROTOCOL_JSON: Codec(SUBPROTOCOL_JSON, binary=False),
    SUBPROTOCOL_MSGPACK: Codec(SUBPROTOCOL_MSGPACK, binary=True),
}


def choose_codec(offered: list[str]) -> Codec | None:
    """The first sub-protocol the client offered that we speak, in the client's order."""
    return next((CODECS[name] for name in offered if name in CODECS), None)


def sse_event(kind: str, data: str, event_id: int | None = None) -> bytes:
    """One server-sent event; `data` is one line of JSON (msgspec escapes newlines)."""
    head = f"event: {kind}\n" if event_id is None else f"event: {kind}\nid: {event_id}\n"
    return (head + "data: " + data + "\n\n").encode()


def now_ms() -> float:
    return round(time.time() * 1000, 1)


def error_message(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})
