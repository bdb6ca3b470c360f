"""A websocket client's two halves at the byte level, for clients that must not read (or
must read only some of) what the server sends: the upgrade request, and the server's frames."""

from __future__ import annotations

import base64
import os
import struct

from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX


def upgrade_request(base: str, ticket: str) -> bytes:
    """The HTTP request that opens a gameserver.v1.json socket to `base` with `ticket`."""
    host = base.removeprefix("http://")
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /ws/play/ HTTP/1.1\r\n"
        f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {SUBPROTOCOL_JSON}, {TICKET_PREFIX}{ticket}\r\n"
        f"Origin: {base}\r\n\r\n"
    ).encode()


def websocket_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the complete server frames (unmasked, unfragmented) in `data`."""
    frames = []
    at = 0
    while at + 2 <= len(data):
        first, second = data[at], data[at + 1]
        assert first & 0x80, "a fragmented server message"
        assert not second & 0x80, "a masked server frame"
        length, at_payload = second & 0x7F, at + 2
        if length == 126:
            if at_payload + 2 > len(data):
                break
            (length,) = struct.unpack("!H", data[at_payload : at_payload + 2])
            at_payload += 2
        elif length == 127:
            if at_payload + 8 > len(data):
                break
            (length,) = struct.unpack("!Q", data[at_payload : at_payload + 8])
            at_payload += 8
        if at_payload + length > len(data):
            break
        frames.append((first & 0x0F, data[at_payload : at_payload + length]))
        at = at_payload + length
    return frames
