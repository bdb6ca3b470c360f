"""The typed channel-layer messages between hubs, engines and staff: one msgspec struct per
message type, sent as {"type": tag, "body": msgpack bytes} so that a field added on one side is
checked on the other (a malformed message fails to decode instead of failing deep in a handler).
docs/ARCHITECTURE.md says who sends which."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from games.protocol import VIEW_ALL

HUBS_GROUP = "gameserver.hubs"  # every web process's hub: a new owner announces itself here
ENGINES_GROUP = "gameserver.engines"  # every engine: matches released on shutdown


class LayerMessage(msgspec.Struct, tag_field="type", frozen=True):
    pass


class EngineWatch(LayerMessage, tag="engine.watch"):
    """hub -> engine: send me these matches' frames. `resume`: per match, the newest tick
    this hub's sockets already have, so a new owner sends a keyframe past it."""

    hub: str
    matches: list[str]
    resume: dict[str, int] = {}


class EngineHeartbeat(LayerMessage, tag="engine.heartbeat"):
    """hub -> engine, every HUB_HEARTBEAT: I am alive, and these are my sockets (socket id ->
    seat) of each match I watch, so that a join or drop lost while Redis was away is put
    right."""

    hub: str
    matches: dict[str, dict[str, int]]
    spectating: list[str] = []  # matches with spectators here (sent their stream too)
    newest: dict[str, int] = {}  # per match, the newest tick written to a socket here


class EngineUnwatch(LayerMessage, tag="engine.unwatch"):
    """hub -> engine: my last local player of this match left."""

    hub: str
    match: str


class EngineJoin(LayerMessage, tag="engine.join"):
    """hub -> engine: a player's socket is here."""

    hub: str
    socket: str
    match: str
    seat: int
    name: str = ""


class EngineSpectate(LayerMessage, tag="engine.spectate"):
    """hub -> engine: a spectator's socket is here; send its keyframe, and the spectators'
    stream from now on."""

    hub: str
    socket: str
    match: str


class EngineDrop(LayerMessage, tag="engine.drop"):
    """hub -> engine: that socket is gone (the seat's grace starts)."""

    hub: str
    socket: str
    match: str
    seat: int


class InputItem(msgspec.Struct, array_like=True, frozen=True):
    """One move, parsed once by the web process (the game's parse_input), with its socket so
    that a refusal reaches the mover alone."""

    match: str
    seat: int
    data: Any
    socket: str = ""


class EngineInputs(LayerMessage, tag="engine.inputs"):
    """hub -> engine: the inputs of one flush, in arrival order."""

    items: list[InputItem]


class EngineReleased(LayerMessage, tag="engine.released"):
    """engine -> all engines: I let these matches go (shutdown); claim them now."""

    engine: str
    matches: list[str]


class EngineControl(LayerMessage, tag="engine.control"):
    """staff (a web process) -> the owner engine: end a match, kick a seat, or show a notice;
    the engine applies it between ticks and answers on `reply` with a ControlAnswer."""

    action: Literal["end", "kick", "notice"]
    match: str
    reply: str
    seat: int = -1  # kick: the seat
    remove: bool = False  # kick: the rules' leave runs (True) or a bot takes the seat (False)
    text: str = ""  # end and kick: the staff's reason (may be empty); notice: the notice


class ControlAnswer(LayerMessage, tag="control.answer"):
    """engine -> the staff's web process: done, or why not."""

    ok: bool
    message: str


class FrameEntry(msgspec.Struct, array_like=True, frozen=True):
    """One match's frame of one tick, encoded once per sub-protocol; `token` is the fencing
    token of the owner's lease, so a hub can drop a frame from an engine that lost it."""

    match: str
    token: int
    tick: int
    key: bool
    text: str
    binary: bytes
    over: str | None = None
    over_binary: bytes | None = None
    view: int = VIEW_ALL  # VIEW_PLAYERS or VIEW_SPECTATORS: for those sockets only


class HubFrames(LayerMessage, tag="hub.frames"):
    """engine -> hub: this tick's frames of the matches the hub asked for."""

    frames: list[FrameEntry]


class HubOwner(LayerMessage, tag="hub.owner"):
    """engine -> hubs: I own this match now (re-register), or, with owner None, I do not
    (look the owner up again)."""

    match: str
    owner: str | None
    token: int = 0


class HubKeyframe(LayerMessage, tag="hub.keyframe"):
    """engine -> hub: the match as it is now, for one socket that just joined."""

    match: str
    socket: str
    token: int
    tick: int
    text: str
    binary: bytes


class HubKick(LayerMessage, tag="hub.kick"):
    """engine -> hub: close that socket (replaced, or its seat is gone)."""

    match: str
    socket: str
    close: int
    code: str
    message: str


class HubRefused(LayerMessage, tag="hub.refused"):
    """engine -> hub: a move of that socket was refused (`illegal_move`, the game's reason)."""

    match: str
    socket: str
    code: str
    message: str


class HubLobby(LayerMessage, tag="hub.lobby"):
    """engine -> hub: who is in a match that waits for players."""

    match: str
    text: str
    binary: bytes


class HubNotice(LayerMessage, tag="hub.notice"):
    """engine -> hub: a staff notice for every socket of the match, encoded once."""

    match: str
    text: str
    binary: bytes


class HubBanned(LayerMessage, tag="hub.banned"):
    """staff -> every hub: close this user's sockets (4403 `banned`)."""

    user: int
    message: str


class HubChat(LayerMessage, tag="hub.chat"):
    """web process -> every hub: a line of chat, encoded once, for the lobby's sockets (match
    "") or a match's (its players, and its spectators unless `players_only`)."""

    match: str
    id: int
    text: str
    binary: bytes
    players_only: bool = False


class HubChatDeleted(LayerMessage, tag="hub.chat_deleted"):
    """staff -> every hub: take that line away from the room's screens."""

    match: str
    id: int


class HubLobbyChanged(LayerMessage, tag="hub.lobby_changed"):
    """web process or engine -> every hub: a match opened, filled, started or ended; the
    lobby's list is read again (once per web process, not per socket)."""


EngineMessage = (
    EngineWatch | EngineHeartbeat | EngineUnwatch | EngineJoin | EngineSpectate | EngineDrop
    | EngineInputs | EngineReleased | EngineControl
)  # fmt: skip
HubMessage = (
    HubFrames | HubOwner | HubKeyframe | HubKick | HubRefused | HubLobby | HubNotice | HubBanned
    | HubChat | HubChatDeleted | HubLobbyChanged
)  # fmt: skip
_layer_encoder = msgspec.msgpack.Encoder()
_engine_decoder = msgspec.msgpack.Decoder(EngineMessage)
_hub_decoder = msgspec.msgpack.Decoder(HubMessage)
_answer_decoder = msgspec.msgpack.Decoder(ControlAnswer)


def pack(message: LayerMessage) -> dict[str, Any]:
    """The channel-layer form of a message."""
    return {"type": message.__struct_config__.tag, "body": _layer_encoder.encode(message)}


def unpack_engine(raw: dict[str, Any]) -> EngineMessage:
    """A message for an engine; raises msgspec.ValidationError/DecodeError if malformed."""
    return _engine_decoder.decode(raw["body"])


def unpack_hub(raw: dict[str, Any]) -> HubMessage:
    """A message for a hub; raises msgspec.ValidationError/DecodeError if malformed."""
    return _hub_decoder.decode(raw["body"])


def unpack_answer(raw: dict[str, Any]) -> ControlAnswer:
    """An engine's answer to a staff action; raises msgspec errors if malformed."""
    return _answer_decoder.decode(raw["body"])
