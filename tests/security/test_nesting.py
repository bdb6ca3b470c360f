"""A deep frame's error code depends on the frame alone, never on how deep the decoding stack
already is (the fuzz test once saw `bad_msgpack` where its own decoder said `bad_message`)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from games import nesting
from games.protocol import MAX_NESTING, ProtocolError, decode_client, decode_client_msgpack

LIMIT = 1 << 16


def refusal_at_depth(decode: Callable[[], Any], frames: int) -> tuple[str, str]:
    """The error code and message `decode` gives when called from `frames` stack frames
    further down."""
    if frames:
        return refusal_at_depth(decode, frames - 1)
    with pytest.raises(ProtocolError) as refusal:
        decode()
    return refusal.value.code, refusal.value.message


TOO_DEEP = ("bad_message", f"invalid message: nested more than {MAX_NESTING} deep")


DEEP_WITH_TRAILING_BYTES = [
    ("json", '{"type": "input", "ack": 1, "data": {"a": ' + "[" * 850 + "]" * 850 + "}} x"),
    (
        "msgpack",
        b"\x83\xa4type\xa5input\xa3ack\x01\xa4data\x81\xa1a" + b"\x91" * 850 + b"\x90\xc1\xc1",
    ),
    ("json", '{"type": 7, "data": ' + "[" * 40 + "]" * 40 + "}"),
    ("msgpack", b"\x82\xa4type\x07\xa4data" + b"\x91" * 40 + b"\x90"),
]


@pytest.mark.parametrize(("kind", "frame"), DEEP_WITH_TRAILING_BYTES)
def test_a_deep_frame_with_another_fault_gets_one_code_at_any_stack_depth(kind, frame):
    if kind == "json":
        decode = lambda: decode_client(frame, max_bytes=LIMIT)  # noqa: E731
    else:
        decode = lambda: decode_client_msgpack(frame, max_bytes=LIMIT)  # noqa: E731
    refusals = {refusal_at_depth(decode, frames) for frames in (0, 300, 700)}
    assert refusals == {TOO_DEEP}, refusals


def test_a_shallow_frame_keeps_its_own_fault():
    text = '{"type": "input", "ack": 1, "data": {}} x'
    assert refusal_at_depth(lambda: decode_client(text, max_bytes=LIMIT), 0)[0] == "bad_json"
    frame = b"\x83\xa4type\xa5input\xa3ack\x01\xa4data\x80\xc1"
    code, _ = refusal_at_depth(lambda: decode_client_msgpack(frame, max_bytes=LIMIT), 0)
    assert code == "bad_msgpack"


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 24 or roll < 0.3:
        return rng.choice([1, -5, 300, 2**40, 1.5, "s", "x" * 40, b"b" * 300, None, True, "é"])
    if roll < 0.65:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}


def real_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(real_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(real_depth, value.values()), default=0)
    return 0


def test_the_depth_scanners_agree_with_the_values_they_scan():
    rng, limit = random.Random(4), MAX_NESTING + 1
    for _ in range(600):
        value = random_value(rng)
        want = min(real_depth(value), limit + 1)
        assert nesting.msgpack_depth(msgspec.msgpack.encode(value), limit) == want, value
        assert nesting.json_depth(msgspec.json.encode(value).decode(), limit) == want, value
