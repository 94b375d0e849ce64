"""Argument types the benchmark scripts share: a count that must be at least some number, a
positive number. Each refuses a bad value with argparse's message, before anything is run."""

from __future__ import annotations

import argparse
from typing import Callable


def at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``.

    >>> at_least(1)("3")
    3
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected at least {least}, not {value}")
        return value
    return parse


def positive_float(text: str) -> float:
    """An argparse type: a number above 0.

    >>> positive_float("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, not {text}")
    return value
