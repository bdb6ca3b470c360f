"""Garbage for the fuzz test: tens of thousands of distinct frames, text and binary.

Hypothesis draws the seeds: random bytes and text, messages shaped like ours with wrong types
and values, messages the schema accepts, their JSON and msgpack encodings with bytes
overwritten. Hypothesis alone is too slow for the volume, and repeats itself: asked for
20,000 frames (the previous test's way) it took 43 s and gave 4,000 distinct ones. So it
draws about 800 (2-3 s), and a seeded mutator multiplies them into the rest in a fraction of
a second: bytes flipped, inserted, deleted and repeated, cut short, spliced with another
seed, salted with JSON and msgpack tokens, sent as the other frame type; with random
messages of ours mixed in that mostly pass the schema.
"""

from __future__ import annotations

import json
import random

import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# A frame stays under the 4096-byte message limit (the app's and the web servers'), so the
# fuzzed sockets stay open: closing for size has its own tests (test_abuse_limits.py).
MAX_FRAME_BYTES = 4000

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)  # what msgpack can carry

json_values = st.recursive(
    st.none() | st.booleans() | INT64 | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20,
)  # fmt: skip
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["input", "ack", "ping", "auth", "teleport", ""])},
    optional={
        "ack": st.integers(min_value=-(2**40), max_value=2**40) | json_values,
        "id": INT64 | json_values,
        "data": st.fixed_dictionaries({"dir": st.sampled_from(["up", "left", "x", ""])})
        | json_values,
        "ticket": st.text(max_size=200),
        "extra": json_values,
    },
)
# Messages the schema accepts: pings and acks, inputs the game takes or refuses ("bad_input"),
# auths on a socket that is already authenticated ("already_authenticated"). Without them
# nearly every frame would stop at the decoder.
TICK = st.integers(min_value=-1, max_value=2**31 - 1)
well_formed = st.one_of(
    st.fixed_dictionaries({"type": st.just("ping"), "id": st.integers(0, 2**31 - 1)}),
    st.fixed_dictionaries({"type": st.just("ack"), "ack": TICK}),
    st.fixed_dictionaries({
        "type": st.just("input"),
        "ack": TICK,
        "data": st.fixed_dictionaries({"dir": st.sampled_from(["up", "down", "left", "right"])})
        | st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    }),
    st.fixed_dictionaries({"type": st.just("auth"), "ticket": st.text(min_size=1, max_size=128)}),
)  # fmt: skip
flips = st.lists(st.tuples(st.integers(0, 999), st.integers(0, 255)), max_size=4)


def overwrite(raw: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    return bytes(data)


frames = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    messages.map(json.dumps),
    messages.map(msgspec.msgpack.encode),
    well_formed.map(json.dumps),
    well_formed.map(msgspec.msgpack.encode),
    st.tuples(messages.map(msgspec.msgpack.encode), flips).map(lambda pair: overwrite(*pair)),
    st.tuples(messages.map(lambda m: json.dumps(m).encode()), flips)
    .map(lambda pair: overwrite(*pair).decode("utf-8", "replace")),
    json_values.map(json.dumps),
)  # fmt: skip

# Bytes that mean something to a JSON or msgpack parser: structure, escapes, huge numbers,
# and msgpack headers announcing more (or other) than follows: map32, array32, str32, bin32,
# ext (type -1 is a timestamp), never-used 0xc1.
TOKENS = [
    b"{", b"}", b"[", b"]", b":", b",", b'"', b"\\", b"\\u0000", b"\\ud800", b"1e999", b"-0",
    b"null", b"true",
    b'"type"', b'"input"', b'"ack"', b"99999999999999999999999",
    b"\xdf\xff\xff\xff\xff", b"\xdd\x7f\xff\xff\xff", b"\xdb\xff\xff\xff\xf0", b"\xc6\xff\xff",
    b"\xd6\xff\x00\x00\x00\x00", b"\xc7\x0c\xff", b"\xc1", b"\x80", b"\x90", b"\xa4type",
    b"\xa5input", b"\xa3ack", b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", b"\xed\xa0\x80", b"\xff",
]  # fmt: skip


def seed_frames(count: int) -> list[str | bytes]:
    """About `count` distinct frames from hypothesis (in lists of ten distinct frames: of the
    shapes tried, the most distinct frames a second)."""
    drawn: list[str | bytes] = []

    @settings(max_examples=count // 10 + 1, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(frames, min_size=10, max_size=10, unique=True))
    def collect(batch: list[str | bytes]) -> None:
        drawn.extend(batch)

    collect()
    return list(dict.fromkeys(drawn))


def mutant(rng: random.Random, seeds: list[str | bytes]) -> str | bytes:
    """A seed changed by one to three byte-level edits; text seeds mostly stay text."""
    seed = rng.choice(seeds)
    data = bytearray(seed.encode() if isinstance(seed, str) else seed)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(data))
        edit = rng.randrange(7)
        if edit == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif edit == 1:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif edit == 2:
            data[at:at] = rng.choice(TOKENS)
        elif edit == 3:
            del data[at : at + rng.randint(1, 16)]
        elif edit == 4:
            del data[at:]
        elif edit == 5:
            other = rng.choice(seeds)
            other = other.encode() if isinstance(other, str) else other
            data[at:] = other[rng.randint(0, len(other)) :]
        else:
            data[at:at] = data[at : at + rng.randint(1, 8)] * rng.randint(2, 50)
    as_text = isinstance(seed, str) != (rng.random() < 0.15)  # 15 %: the other frame type
    if not as_text:
        return bytes(data[:MAX_FRAME_BYTES])
    text = data.decode("utf-8", "replace")  # a text frame must be UTF-8: bad bytes become U+FFFD
    while len(text.encode()) > MAX_FRAME_BYTES:
        text = text[: len(text) // 2]
    return text


FIELDS = {"ping": ("id",), "ack": ("ack",), "input": ("ack", "data"), "auth": ("ticket",)}
WRONG = [None, -2, 2**31, 1.5, "1", [], {}, True, {"dir": "warp"}]


def random_message(rng: random.Random) -> str | bytes:
    """One of our messages with random values that fit, and in a third of them one field
    wrong or extra: these get past the decoder to the handlers (pong, ack, the game's check
    of an input, already_authenticated), where the mutants mostly do not."""
    kind = rng.choice(list(FIELDS))
    fits = {
        "id": rng.randrange(2**31),
        "ack": rng.randrange(-1, 2**31),
        "data": {"dir": rng.choice(["up", "down", "left", "right", "warp", ""])},
        "ticket": rng.randbytes(rng.randint(1, 64)).hex(),
    }
    message: dict[str, object] = {"type": kind, **{f: fits[f] for f in FIELDS[kind]}}
    if rng.random() < 0.3:
        message[rng.choice([*FIELDS[kind], "extra"])] = rng.choice(WRONG)
    return json.dumps(message) if rng.random() < 0.5 else msgspec.msgpack.encode(message)


def deeply_nested() -> list[str | bytes]:
    """Inputs and auths nested past any limit (1,900 deep raised RecursionError once)."""
    frames: list[str | bytes] = []
    for depth in (17, 100, 1900):
        frames.append(
            '{"type": "input", "ack": 1, "data": {"a": ' + "[" * depth + "]" * depth + "}}"
        )
        frames.append('{"type": "auth", "ticket": ' + "[" * depth + "]" * depth + "}")
        frames.append(
            b"\x83\xa4type\xa5input\xa3ack\x01\xa4data\x81\xa1a" + b"\x91" * depth + b"\x90"
        )
    return frames


def garbage(count: int, *, drawn: int = 800, seed: int | None = None) -> list[str | bytes]:
    """`count` distinct frames in random order: about `drawn` from hypothesis, then mutants of
    them and (one in seven) random messages of ours. A str is sent as a text frame, bytes as
    a binary frame: "{}" and b"{}" are two frames."""
    rng = random.Random(seed)
    pool = dict.fromkeys(f for f in seed_frames(drawn) if len(f) <= MAX_FRAME_BYTES // 4)
    pool.update(dict.fromkeys(deeply_nested()))
    bases = list(pool)
    while len(pool) < count:
        pool[random_message(rng) if rng.random() < 1 / 7 else mutant(rng, bases)] = None
    thrown = list(pool)[:count]
    rng.shuffle(thrown)
    return thrown
