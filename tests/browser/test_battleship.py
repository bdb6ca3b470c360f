"""Battleship's browser client (static/js/games/battleship/) in real Chromium against a real
stack with a quick bot: the lobby offers it with its options; a fleet placed with "Random
fleet" or cell by cell (rotated, by keyboard, picked up and put down again) goes out with
Ready; whole matches are played by clicking their waters until the game-over dialog, watched
by a spectator who sees both fleets by name, and a tap fires on a phone. On the way the page
never shows a cell of the bot's fleet that is not sunk, a click on a cell fired at already
sends nothing, and the page's model equals the frames it was sent applied with the rules' own
apply_delta; fed every view of a whole match step by step, the client's model equals each
next keyframe, and describe() says whose turn it is and how long is left."""

from __future__ import annotations

import copy

import pytest

from games.rules.base import Seat
from games.rules.battleship import apply_delta
from games.rules.battleship.board import ship_cells
from games.rules.battleship.rules import Battleship
from tests.browser.pages import game_lobby_page
from tests.browser.test_client import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(90)

# Bots fill the free seat at once and answer each shot in 50 ms: a whole match in seconds.
QUICK = {
    "GAMESERVER_BOT_THINK_SECONDS": "0.05",
    "GAMESERVER_BOT_FILL_SECONDS": "0.3",
    "GAMESERVER_PRIVATE_BOT_FILL_SECONDS": "0.3",
}
OWN = ".bs-panel[data-role='own']"
TARGET = ".bs-panel[data-role='target']"
MODEL = "window.gameserver.model"
HURRY = "Fire now, or your turn passes."


def cell(board: str, x: int, y: int) -> str:
    return f"{board} .cell[data-x='{x}'][data-y='{y}']"


def model(page) -> dict:
    return page.evaluate(f"() => {MODEL}.snapshot()")


def wait_for_phase(page, phase: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"(phase) => {MODEL} && {MODEL}.ready && {MODEL}.phase === phase",
        arg=phase,
        timeout=timeout,
    )


def own_ship_cells(page) -> int:
    return page.locator(f"{OWN} .cell[data-ship]").count()


def replayed(frames: list[dict], upto: int) -> tuple[dict | None, int | None, int]:
    """The frames a page received up to tick `upto`, applied as docs/PROTOCOL.md says with the
    rules' own apply_delta: (the model, its tick, how many deltas went into it)."""
    state, tick, deltas = None, None, 0
    for frame in frames:
        if frame["tick"] > upto:
            break
        if frame["key"]:
            state, tick, deltas = copy.deepcopy(frame["state"]), frame["tick"], 0
        elif state is not None and frame["tick"] == tick + 1:
            state, tick = apply_delta(state, frame["delta"]), frame["tick"]
            deltas += 1
    return state, tick, deltas


def check_model_mirrors_the_rules(page) -> int:
    """The page's model is the frames it got applied with apply_delta; returns the deltas."""
    for _ in range(20):  # Playwright may hand over the newest frame a moment after the page
        tick, snapshot = page.evaluate(f"() => [{MODEL}.tick, {MODEL}.snapshot()]")
        state, replayed_tick, deltas = replayed(page.received, tick)
        if replayed_tick == tick:
            assert snapshot == state, (tick, snapshot, state)
            return deltas
        page.wait_for_timeout(50)
    raise AssertionError(f"the page is at tick {tick}, its frames only at {replayed_tick}")


def check_their_waters(page, seat: int) -> None:
    """Every cell of their waters shows what my shots found, and a ship only once sunk."""
    shown = page.evaluate(
        f"""() => [...document.querySelectorAll("{TARGET} .cell")].map((c) =>
            [Number(c.dataset.x), Number(c.dataset.y), c.dataset.state, "ship" in c.dataset])"""
    )
    snapshot = model(page)
    sunk = {cell for ship in snapshot["sunk"][1 - seat] for cell in ship_cells(ship)}
    shots = {(x, y): hit for x, y, hit in snapshot["shots"][seat]}
    for x, y, state, ship in shown:
        if (x, y) in sunk:
            assert state == "sunk" and ship, (x, y, state)
            continue
        assert not ship, f"({x}, {y}) shows a ship of theirs that is not sunk"
        expected = {True: "hit", False: "miss", None: "empty"}[shots.get((x, y))]
        assert state == expected, (x, y, state, expected)


def next_target(snapshot: dict, seat: int) -> tuple[int, int]:
    """Where a simple player fires: beside a hit not sunk yet, else on a checkerboard."""
    size = snapshot["size"]
    fired = {(x, y) for x, y, _ in snapshot["shots"][seat]}
    sunk = {cell for ship in snapshot["sunk"][1 - seat] for cell in ship_cells(ship)}
    for x, y, hit in snapshot["shots"][seat]:
        if hit and (x, y) not in sunk:
            for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if 0 <= nx < size and 0 <= ny < size and (nx, ny) not in fired:
                    return nx, ny
    free = [(x, y) for y in range(size) for x in range(size) if (x, y) not in fired]
    return next(((x, y) for x, y in free if (x + y) % 2 == 0), free[0])


def wait_for_my_turn(page, seat: int) -> bool:
    """True once I can fire, False once the match is over."""
    page.wait_for_function(
        f"""(seat) => {MODEL}.phase === 'over' || ({MODEL}.turn === seat
            && document.querySelector("{TARGET} .cell[data-open]") !== null)""",
        arg=seat,
        timeout=10_000,
    )
    return page.evaluate(f"() => {MODEL}.phase") != "over"


def fire_by_click(page, seat: int, x: int, y: int) -> None:
    fired = len(model(page)["shots"][seat])
    page.click(cell(TARGET, x, y))
    page.wait_for_function(
        f"([seat, n]) => {MODEL}.shots[seat].length > n || {MODEL}.phase === 'over'",
        arg=[seat, fired],
        timeout=5_000,
    )
    assert model(page)["shots"][seat][fired][:2] == [x, y]


def click_on_a_fired_cell_sends_nothing(page, seat: int) -> None:
    snapshot = model(page)
    x, y, _ = snapshot["shots"][seat][0]
    assert page.get_attribute(cell(TARGET, x, y), "data-open") is None
    inputs = page.evaluate("() => window.__inputs.length")
    page.click(cell(TARGET, x, y))
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__inputs.length") == inputs
    assert model(page)["shots"] == snapshot["shots"]
    assert page.is_hidden("#game-note"), page.text_content("#game-note")


def play_out_by_clicks(page, seat: int) -> None:
    """Fire by clicking their waters until the game-over dialog shows."""
    shots = deltas = 0
    while wait_for_my_turn(page, seat):
        check_their_waters(page, seat)
        deltas = max(deltas, check_model_mirrors_the_rules(page))
        status = page.text_content("#status")
        assert status.startswith("Your turn — ") and status.endswith(" s"), status
        if shots == 3:
            click_on_a_fired_cell_sends_nothing(page, seat)
        fire_by_click(page, seat, *next_target(model(page), seat))
        shots += 1
        assert shots <= model(page)["size"] ** 2
    page.wait_for_selector("#gameover", state="visible", timeout=5_000)
    title = page.text_content("#gameover-title")
    assert title == "You win!" or title.endswith(" wins"), title
    check_their_waters(page, seat)
    end = model(page)
    assert end["phase"] == "over" and end["reason"] == "fleet sunk", end
    loser = 1 - end["winner"]
    assert len(end["sunk"][loser]) == len(end["fleet"])
    hits = page.evaluate("() => [...document.querySelectorAll('#hud-players .score')]"
                         ".map((s) => Number(s.textContent))")  # fmt: skip
    assert hits == [p["hits"] for p in end["players"]], hits
    assert deltas > 10, deltas  # the model followed deltas, not just keyframes
    check_model_mirrors_the_rules(page)
    assert " sank " in page.text_content(".bs-report"), page.text_content(".bs-report")
    winner = end["winner"]
    last = page.locator(f".bs-panel[data-owner='{1 - winner}'] .cell.latest")
    x, y, _ = end["shots"][winner][-1]
    assert (last.get_attribute("data-x"), last.get_attribute("data-y")) == (str(x), str(y))


def watching(browser, base: str, match_id: str):  # noqa: F811
    """A spectator's page on match `match_id` (over Server-Sent Events), once it has a model."""
    page = game_lobby_page(browser, base, "watcher", "battleship")
    page.evaluate("(id) => { location.hash = 'watch=' + id; }", match_id)
    page.wait_for_function(
        "() => window.gameserver.watch && window.gameserver.watch.model"
        " && window.gameserver.watch.model.ready",
        timeout=10_000,
    )
    return page


def check_spectators_boards(page, names: list[str]) -> None:
    """Both fleets by their players' names, with every shot, and a ship only once sunk."""
    snapshot = page.evaluate("() => window.gameserver.watch.model.snapshot()")
    assert snapshot["you"] is None and snapshot["ships"] == []
    for owner, name in enumerate(names):
        board = f".bs-panel[data-owner='{owner}']"
        assert page.text_content(f"{board} .bs-title") == name
        sunk = {cell for ship in snapshot["sunk"][owner] for cell in ship_cells(ship)}
        shown = page.evaluate(
            f"""() => [...document.querySelectorAll("{board} .cell[data-state]")]
                .filter((c) => c.dataset.state !== "empty" || "ship" in c.dataset)
                .map((c) => [Number(c.dataset.x), Number(c.dataset.y), c.dataset.state])"""
        )
        shots = {(x, y): "hit" if hit else "miss" for x, y, hit in snapshot["shots"][1 - owner]}
        expected = {(x, y): "sunk" if (x, y) in sunk else state for (x, y), state in shots.items()}
        assert {(x, y): state for x, y, state in shown} == expected, owner


def test_the_lobby_offers_battleship_with_its_options(stack_factory, browser):  # noqa: F811
    page = game_lobby_page(browser, stack_factory().web(), "tester", "battleship")
    offered = page.evaluate("() => [...document.querySelectorAll('#game-select option')]"
                            ".map((o) => o.value)")  # fmt: skip
    assert {"lightcycles", "battleship"} <= set(offered), offered
    assert page.text_content("#create-title") == "New Battleship match"
    for label, low, high, default in (
        ("Board size", "8", "12", "10"),
        ("Seconds per turn", "5", "120", "30"),
        ("Seconds to place ships", "10", "180", "60"),
    ):
        field = page.get_by_label(label)
        assert (field.get_attribute("min"), field.get_attribute("max")) == (low, high), label
        assert field.input_value() == default, label
    assert page.get_by_label("Fill empty seats with bots").is_checked()
    shown = page.text_content("#game-select option[value='battleship']")
    assert shown == "Battleship (2 players)", shown
    assert page.is_enabled("#quickplay") and page.is_enabled("#create-public")
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)


# Feeds each view's frames of a match to the client's model in the page, and says what the
# game module makes of it after every step: its snapshot, describe() and players().
FOLLOW = """async ({ views, times }) => {
  const game = (await import("/static/js/games/battleship/index.js")).default;
  return views.map(({ seat, keyframe, deltas }) => {
    const model = game.createModel({ match: { options: { size: 8 } }, seat });
    model.applyKeyframe(keyframe);
    model.ready = true;
    return deltas.map((delta, step) => {
      model.applyDelta(delta);
      const said = game.describe(model, { seat, time: times[step] });
      return { snapshot: model.snapshot(), said, rows: game.players(model) };
    });
  });
}"""


def a_match_step_by_step() -> tuple[list[dict], list[float], list[list[dict]]]:
    """A match between ann and bob moved by the rules' bots, with every kind of step: presence,
    a fleet placed, one given at the deadline, a turn run out, shots to the end. Returns each
    view (seat 0, seat 1, spectators) as {seat, keyframe, deltas}, a match time to read each
    step at (a quarter second after it; 3 s before the deadline after the last presence
    step), and each view's keyframe after each step."""
    game = Battleship()
    state = game.new_state(seed=11, seats=[Seat(0, "ann"), Seat(1, "bob")], options={"size": 8})
    seats = (0, 1, None)

    def keyframe(seat):
        return game.spectator_keyframe(state) if seat is None else game.seat_keyframe(state, seat)

    def delta(seat):
        return game.spectator_delta(state) if seat is None else game.seat_delta(state, seat)

    views = [{"seat": seat, "keyframe": keyframe(seat), "deltas": []} for seat in seats]
    times: list[float] = []
    after: list[list[dict]] = [[] for _ in seats]
    script = [("join", 0), ("join", 1), ("move", 0), ("expire",), ("expire",), ("drop", 1)]
    script.append(("join", 1))
    now = 1.0
    while script or not game.is_over(state):
        step = script.pop(0) if script else ("move", state.turn)
        if step[0] == "expire":
            now = game.deadline(state)
            game.expire(state, now)
        elif step[0] == "move":
            now += 0.5
            game.move(state, step[1], game.bot_input(state, step[1]), now)
        else:
            getattr(game, step[0])(state, step[1])
        times.append(game.deadline(state) - 3 if not script and step[0] == "join" else now + 0.25)
        for view, seat, keyframes in zip(views, seats, after, strict=True):
            view["deltas"].append(copy.deepcopy(delta(seat)))
            keyframes.append(copy.deepcopy(keyframe(seat)))
    return views, times, after


def test_the_model_mirrors_apply_delta_and_describe_reads_it(stack_factory, browser):  # noqa: F811
    page = game_lobby_page(browser, stack_factory().web(), "tester", "battleship")
    views, times, after = a_match_step_by_step()
    followed = page.evaluate(FOLLOW, {"views": views, "times": times})
    for view, steps, keyframes in zip(views, followed, after, strict=True):
        for step, (seen, keyframe) in enumerate(zip(steps, keyframes, strict=True)):
            assert seen["snapshot"] == keyframe, (view["seat"], step)
    ann, bob, spectator = ([s["said"]["status"] for s in steps] for steps in followed)
    # Ann placed her fleet (step 2): she waits for bob, who places his.
    assert (ann[2], bob[2], spectator[2]) == (
        "Waiting for bob — 59 s", "Place your ships — 59 s", "Placing ships — 59 s"
    )  # fmt: skip
    first = after[0][3]["turn"]
    names = ("ann", "bob")
    mine, theirs = (ann, bob) if first == 0 else (bob, ann)
    assert mine[3].startswith("Your turn — ") and theirs[3].startswith(f"{names[first]}'s turn — ")
    # The second join: 3 s left for the seat to fire, who is told to hurry.
    turn = after[2][6]["turn"]
    hurried = followed[turn][6]["said"]
    assert hurried == {"status": "Your turn — 3 s", "started": True, "note": HURRY}, hurried
    # The seat whose turn ran out is told so on its next turn.
    again = next(s for s in followed[first][4:] if s["said"]["status"].startswith("Your turn"))
    assert again["said"]["note"] == "Your last turn ran out: 2 more in a row and you forfeit."
    assert spectator[6] == f"{names[turn]}'s turn — 3 s"
    rows = followed[2][-1]["rows"]
    end = after[2][-1]
    assert [r["score"] for r in rows] == [p["hits"] for p in end["players"]]
    assert [r["out"] for r in rows] == [p["seat"] != end["winner"] for p in end["players"]]
    assert all(s["said"]["over"] for s in (followed[0][-1], followed[1][-1], followed[2][-1]))
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)


def test_quick_play_with_a_random_fleet_to_game_over(stack_factory, browser):  # noqa: F811
    base = stack_factory(**QUICK).web()
    page = game_lobby_page(browser, base, "tester", "battleship")
    page.click("#quickplay")
    wait_for_phase(page, "placing")
    seat = page.evaluate("() => window.gameserver.seat")
    assert page.text_content("#status").startswith("Place your ships — ")
    assert page.is_disabled(f"{OWN} button[data-action='ready']")
    page.click("text=Random fleet")
    assert own_ship_cells(page) == 17
    page.click(f"{OWN} button[data-action='ready']")
    page.wait_for_function(f"(seat) => {MODEL}.players[seat].ready", arg=seat)
    wait_for_phase(page, "firing")
    assert len(model(page)["ships"]) == 5 and own_ship_cells(page) == 17
    assert page.is_hidden(f"{OWN} .bs-tools")
    names = [p["name"] for p in model(page)["players"]]
    watcher = watching(browser, base, page.evaluate("() => window.gameserver.match.id"))
    check_spectators_boards(watcher, names)
    play_out_by_clicks(page, seat)
    watcher.wait_for_selector("#gameover", state="visible", timeout=5_000)
    check_spectators_boards(watcher, names)
    for shown in (page, watcher):
        assert shown.errors == [] and shown.violations == [], (shown.errors, shown.violations)


def test_a_fleet_placed_cell_by_cell_then_a_match_by_clicks(stack_factory, browser):  # noqa: F811
    page = game_lobby_page(browser, stack_factory(**QUICK).web(), "tester", "battleship")
    page.get_by_label("Board size").fill("8")
    page.click("#create-public")
    wait_for_phase(page, "placing")
    seat = page.evaluate("() => window.gameserver.seat")
    assert model(page)["size"] == 8 and page.locator(f"{OWN} .cell").count() == 64

    page.click(cell(OWN, 0, 0))  # the carrier, across
    assert own_ship_cells(page) == 5
    page.click(f"{OWN} button[data-action='rotate']")
    page.click(cell(OWN, 7, 0))  # the battleship, down
    assert own_ship_cells(page) == 9
    page.keyboard.press("r")  # across again: the cruiser
    page.hover(cell(OWN, 5, 1))  # would overlap the battleship: shown, refused
    assert page.locator(f"{OWN} .cell.preview.bad").count() == 3
    page.click(cell(OWN, 5, 1))
    assert own_ship_cells(page) == 9
    for key in ["ArrowLeft"] * 5 + ["ArrowDown"]:
        page.keyboard.press(key)  # the cursor starts on the cell clicked last, (5, 1)
    cursor = page.locator(f"{OWN} .cell.cursor")
    assert (cursor.get_attribute("data-x"), cursor.get_attribute("data-y")) == ("0", "2")
    page.keyboard.press("Enter")
    assert own_ship_cells(page) == 12
    page.click(cell(OWN, 2, 0))  # picks the carrier up again
    assert own_ship_cells(page) == 7
    page.click(cell(OWN, 0, 6))
    page.click(cell(OWN, 0, 4))  # the submarine
    page.click(cell(OWN, 7, 7))  # the destroyer, moved back onto the board
    assert own_ship_cells(page) == 17
    page.click(f"{OWN} button[data-action='ready']")
    page.wait_for_function(f"(seat) => {MODEL}.players[seat].ready", arg=seat)
    placed = [[0, 6, "h", 5], [7, 0, "v", 4], [0, 2, "h", 3], [0, 4, "h", 3], [6, 7, "h", 2]]
    assert model(page)["ships"] == placed
    assert page.evaluate("() => window.__inputs") == [{"place": [s[:3] for s in placed]}]

    wait_for_phase(page, "firing")
    assert wait_for_my_turn(page, seat)
    page.keyboard.press("ArrowRight")  # shows the cursor on their waters, at (3, 3)
    page.keyboard.press("ArrowRight")
    fired = len(model(page)["shots"][seat])
    page.keyboard.press("Enter")
    page.wait_for_function(f"(seat) => {MODEL}.shots[seat].length > {fired}", arg=seat)
    assert model(page)["shots"][seat][fired][:2] == [4, 3]
    play_out_by_clicks(page, seat)
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)


def test_a_tap_fires_on_a_phone(stack_factory, browser):  # noqa: F811
    phone = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
    page = game_lobby_page(browser, stack_factory(**QUICK).web(), "thumbs", "battleship", **phone)
    page.tap("#quickplay")
    wait_for_phase(page, "placing")
    seat = page.evaluate("() => window.gameserver.seat")
    page.tap(cell(OWN, 0, 0))  # a ship by a tap
    assert own_ship_cells(page) == 5
    page.tap("text=Random fleet")
    page.tap(f"{OWN} button[data-action='ready']")
    wait_for_phase(page, "firing")
    assert wait_for_my_turn(page, seat)
    # Stacked, their waters first, with cells a finger can hit.
    target, own = (page.locator(board).bounding_box() for board in (TARGET, OWN))
    assert target["y"] + target["height"] <= own["y"], (target, own)
    box = page.locator(cell(TARGET, 0, 0)).bounding_box()
    assert box["width"] >= 28 and box["x"] + 10 * box["width"] <= 390, box
    x, y = next_target(model(page), seat)
    fired = len(model(page)["shots"][seat])
    page.tap(cell(TARGET, x, y))
    page.wait_for_function(f"(seat) => {MODEL}.shots[seat].length > {fired}", arg=seat)
    assert model(page)["shots"][seat][fired][:2] == [x, y]
    check_their_waters(page, seat)
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)
