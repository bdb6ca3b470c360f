"""How deeply a raw frame nests arrays and objects, without decoding it.

msgspec stops a deep frame with RecursionError, and how deep it gets first depends on how deep
the caller's stack already is: the same frame could be refused as nested too deep in one
process and for its other fault in another. A frame that fails to decode is measured here
instead, so that its answer depends on the frame alone (games/protocol.py)."""

from __future__ import annotations

# msgpack headers with a fixed number of bytes after them (nil, bools, numbers, fixext).
_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
          0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9,
          0xD8: 17}  # fmt: skip
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin and str: then the bytes
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}  # ext: a length, a type byte, the bytes
_COUNTED = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}  # array16/32, map16/32


def json_depth(text: str, limit: int) -> int:
    """The deepest `[`/`{` outside strings, counted up to `limit` + 1."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def msgpack_depth(data: bytes, limit: int) -> int:
    """The deepest array or map, counted up to `limit` + 1; a truncated or invalid frame is
    measured as far as it goes."""
    pending: list[int] = []  # items still to read in each open array or map
    deepest, at, size = 0, 0, len(data)
    while at < size:
        byte = data[at]
        at += 1
        items = -1  # not a container
        while pending and pending[-1] == 0:
            pending.pop()  # the innermost open container is complete
        if pending:
            pending[-1] -= 1  # this item fills one of its places
        if byte <= 0x7F or byte >= 0xE0:
            pass  # fixint
        elif byte <= 0x8F:
            items = 2 * (byte & 0x0F)
        elif byte <= 0x9F:
            items = byte & 0x0F
        elif byte <= 0xBF:
            at += byte & 0x1F  # fixstr
        elif byte in _FIXED:
            at += _FIXED[byte]
        elif byte in _SIZED or byte in _EXT:
            width = _SIZED.get(byte) or _EXT[byte]
            at += width + int.from_bytes(data[at : at + width], "big") + (byte in _EXT)
        elif byte in _COUNTED:
            width, per_item = _COUNTED[byte]
            items = per_item * int.from_bytes(data[at : at + width], "big")
            at += width
        else:
            return deepest  # 0xC1 is never used: not msgpack from here on
        if items > 0:
            pending.append(items)
            deepest = max(deepest, len(pending))
            if deepest > limit:
                break
        elif items == 0:
            deepest = max(deepest, len(pending) + 1)
    return deepest
