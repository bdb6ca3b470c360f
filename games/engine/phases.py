"""A match's phases in an engine host: it waits for players, starts, plays, is over."""

WAITING, STARTING, PLAYING, OVER = "waiting", "starting", "playing", "over"
