"""Per-match options (games/rules/base.py): what a value must be, and a declaration that
could not be checked is refused when the game is defined."""

from __future__ import annotations

import pytest

from games.rules.base import Option


def test_each_kind_of_option_accepts_only_its_values():
    size, fast, colour = (Option("size", "Size", 10, 8, 12), Option("fast", "Fast", False),
                          Option("colour", "Colour", "red", choices=("red", "blue")))  # fmt: skip
    assert (size.parse(12), fast.parse(True), colour.parse("blue")) == (12, True, "blue")
    for option, value in ((size, 13), (size, True), (fast, 1), (colour, "green")):
        with pytest.raises(ValueError):
            option.parse(value)


@pytest.mark.parametrize(
    "declared",
    [
        {"default": 10},  # an int without bounds
        {"default": 20, "low": 8, "high": 12},  # its default out of them
        {"default": "red", "choices": ("blue",)},  # a default that is not a choice
    ],
)
def test_an_option_that_could_not_be_checked_is_refused_when_declared(declared):
    with pytest.raises(ValueError):
        Option("x", "X", **declared)
