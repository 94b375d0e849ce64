"""The package's exception types.

Every problem with user input surfaces as :class:`InputError`, whose message names the file,
row, column and value at fault and says what was expected. The command line turns it into an
exit code of 2 and a one-paragraph message, never a traceback.
"""

from __future__ import annotations

import difflib
import numbers
import os
import unicodedata
from pathlib import Path
from typing import Sequence

__all__ = ["InputError", "ConvergenceError", "SpecError", "DataWarning", "expected_one_of",
           "is_real", "whole_number", "check_seed", "as_path", "as_names", "raise_first",
           "MAX_REPORTED"]

#: problems kept on an :class:`InputError`'s ``problems`` (its ``n_problems`` counts them all)
MAX_REPORTED = 50


#: the longest value an error shows whole (its repr, in characters)
MAX_VALUE_SHOWN = 200


class InputError(ValueError):
    """Invalid observations, event log, catalog or scenario.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    file, row, column, value
        Where the problem is. ``row`` is the 1-based line number in the file (the header is
        line 1), so an editor jumps straight to it.
    parameter
        The argument or command-line option at fault, when the problem is not in a file.
    key
        The setting at fault, of a spec built in code (a TOML file's keys come as ``column``
        and are called keys).

    Attributes
    ----------
    problems, n_problems
        Every problem found (up to 50, in file order; this one first) and how many rows have
        one: a file's row checks report them all at once; any other error is the only one.

    Examples
    --------
    >>> err = InputError("unknown ally", file="obs.csv", row=3, column="ally", value="XXX")
    >>> str(err)
    "obs.csv, row 3, column 'ally', value 'XXX': unknown ally"
    >>> str(InputError("malformed month", parameter="month", value="2026-13"))
    "parameter 'month', value '2026-13': malformed month"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
        parameter: str | None = None,
        key: str | None = None,
    ) -> None:
        self.reason = message
        self.file = file
        self.row = row
        self.column = column
        self.value = value
        self.parameter = parameter
        self.key = key
        self.problems: tuple[InputError, ...] = (self,)
        self.n_problems = 1
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            # a TOML file (catalog, spec) has keys, not columns
            kind = "key" if str(file).lower().endswith(".toml") else "column"
            where.append(f"{kind} {column!r}")
        if key is not None:
            where.append(f"key {key!r}")
        if parameter is not None:
            where.append(f"parameter {parameter!r}")
        if value is not None:
            shown = repr(value)
            if len(shown) > MAX_VALUE_SHOWN:  # a 2 MB cell is not shown whole
                shown = f"{shown[:MAX_VALUE_SHOWN - 40]}… ({len(shown):,} characters)"
            where.append(f"value {shown}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


def raise_first(found: Sequence[InputError], count: int | None = None) -> None:
    """Raise the first of ``found`` carrying the first :data:`MAX_REPORTED` of them as its
    ``problems`` and ``count`` (by default, how many were found) as its ``n_problems``: a
    mistake made in many rows is said at once. Nothing where none was found.

    Examples
    --------
    >>> try:
    ...     raise_first([InputError("bad", row=2), InputError("bad", row=5)])
    ... except InputError as err:
    ...     [p.row for p in err.problems], err.n_problems
    ([2, 5], 2)
    """
    if not found:
        return
    first = found[0]
    first.problems = tuple(found[:MAX_REPORTED])
    first.n_problems = len(found) if count is None else count
    raise first


class SpecError(InputError):
    """A model spec (``models/*.toml``) that cannot be read or does not fit the catalog."""


class ConvergenceError(RuntimeError):
    """A fit that failed the diagnostics gate where a converged one was required."""


class DataWarning(UserWarning):
    """Data that are read as valid but may not say what was meant (e.g. an event logged twice
    without a description to tell the two apart); the command line prints it as a warning of
    ``forecast validate`` and ``forecast run``, and a run's manifest records it."""


class UnobservedEndWarning(DataWarning):
    """A panel whose months run past the last one with a monthly signal: a fit reads no data
    of those months and a forecast starts from the last (the monthly run says it in its own
    words, with the command line's advice, and leaves this one out)."""


# the package's own source files: a warning it issues is attributed to the first frame outside
# them, the line of the user's code that called into the package, however deep the call
PACKAGE_FRAMES = (os.path.dirname(os.path.abspath(__file__)) + os.sep,)


def shortlist(items: Sequence, limit: int, *, counted: bool = False, sep: str = ", ") -> str:
    """The first ``limit`` of ``items`` joined for a message, then ``", …"`` or, ``counted``,
    ``" and K more"`` where there are more.

    Examples
    --------
    >>> shortlist(["JPN", "KOR", "PHL"], 2)
    'JPN, KOR, …'
    >>> shortlist(["row 3", "row 8", "row 9"], 2, counted=True)
    'row 3, row 8 and 1 more'
    >>> shortlist([1, 2], 2)
    '1, 2'
    """
    if isinstance(items, str) or limit < 1:
        raise ValueError("shortlist takes a sequence of items and a limit of at least 1")
    shown = sep.join(str(item) for item in items[:limit])
    rest = len(items) - limit
    if rest <= 0:
        return shown
    return shown + (f" and {rest} more" if counted else f"{sep.rstrip()} …")


def expected_one_of(value: str, choices: list[str], *, also: str | None = None,
                    other_names: dict[str, str] | None = None) -> str:
    """The end of a message about a value that is not among ``choices``: what is expected
    (the first 12, then ``also``, what else is accepted) and the nearest choice, if one is
    close (case aside, or by spelling, or as ``other_names`` maps a lower-case name no
    spelling is near to its choice); ``""`` where there is no choice.

    Examples
    --------
    >>> "unknown ally" + expected_one_of("KRO", ["JPN", "KOR", "PHL"])
    "unknown ally: expected one of JPN, KOR, PHL (did you mean 'KOR'?)"
    >>> "unknown spec" + expected_one_of("defualt", ["default", "static"], also="a path")
    "unknown spec: expected one of default, static or a path (did you mean 'default'?)"
    >>> "unknown frequency" + expected_one_of("Yearly", ["monthly", "annual"],
    ...                                       other_names={"yearly": "annual"})
    "unknown frequency: expected one of monthly, annual (did you mean 'annual'?)"
    """
    if not choices:
        return ""
    shown = shortlist(choices, 12) + (f" or {also}" if also else "")
    composed = [c for c in choices
                if unicodedata.normalize("NFC", c) == unicodedata.normalize("NFC", value)]
    if composed:  # the same text to the eye: say why it differs
        return (f": expected one of {shown} ({composed[0]!r} written with other Unicode "
                "code points, e.g. an accent as a separate mark: save the file with "
                "composed characters, NFC)")
    named = (other_names or {}).get(value.strip().lower())
    folded = [c for c in choices if c.casefold() == value.casefold()]
    close = ([named] if named else folded
             or difflib.get_close_matches(value, choices, n=1, cutoff=0.6))
    return f": expected one of {shown}" + (f" (did you mean {close[0]!r}?)" if close else "")


def is_real(value) -> bool:
    """Whether ``value`` is a real number, a bool not counted (``True < 2`` holds in Python).

    Examples
    --------
    >>> is_real(0.5), is_real(1), is_real(True), is_real("0.5")
    (True, True, False, False)
    """
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def whole_number(name: str, value, least: int, most: int | None = None) -> int:
    """``value`` as an int if it is a whole number from ``least`` to ``most``, else
    :class:`~forecast.errors.InputError` naming the parameter ``name``.

    Examples
    --------
    >>> whole_number("n_inner", 16, 2)
    16
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < least or (most is not None and value > most)):
        span = f"from {least} to {most}" if most is not None else f"of at least {least}"
        raise InputError(f"{name} must be an integer {span}", parameter=name, value=value)
    return int(value)


def as_path(value, what: str, parameter: str = "path") -> Path:
    """``value`` as a :class:`~pathlib.Path`, or :class:`InputError` naming ``parameter``
    where it is no path (``None``, a number): pathlib's own ``TypeError`` names neither.

    Examples
    --------
    >>> as_path("fit.nc", "a saved fit").name
    'fit.nc'
    >>> as_path(None, "a saved fit")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'path', value 'NoneType': expected the path of a saved fit
    """
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"expected the path of {what}", parameter=parameter,
                         value=type(value).__name__)
    return Path(value)


def as_names(value, what: str, parameter: str) -> list:
    """A name or a collection of names as a list (one name is not its letters), or
    :class:`InputError` naming ``parameter`` where ``value`` is neither (a number: Python's
    "'int' object is not iterable" named no argument).

    Examples
    --------
    >>> as_names("KOR", "ally codes", "allies"), as_names(("KOR", "JPN"), "ally codes", "allies")
    (['KOR'], ['KOR', 'JPN'])
    >>> as_names(5, "ally codes", "allies")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'allies', value 5: expected one of the ally codes or a list of them
    """
    if isinstance(value, str):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise InputError(f"expected one of the {what} or a list of them", parameter=parameter,
                         value=value) from None


#: the largest seed: nutpie takes an unsigned 64-bit integer
MAX_SEED = 2**64 - 1
#: the most draws (and tuning steps) per chain, and chains, a fit takes: a number past what
#: the sampler's integers hold failed after minutes of compiling, with nutpie's traceback;
#: memory ends a real fit long before (4 chains of a million draws of the embedded data's
#: 5 000 quantities are 160 GB)
MAX_DRAWS = 1_000_000
MAX_CHAINS = 64
#: the most of each sampler setting, for ``fit`` and ``forecast run`` alike
SAMPLER_MOST = {"draws": MAX_DRAWS, "tune": MAX_DRAWS, "chains": MAX_CHAINS}


def check_seed(seed, most: int | None = None) -> None:
    """Refuse a seed numpy cannot take (a negative or non-whole number), or one above ``most``
    (:data:`MAX_SEED` for a sampler: nutpie's unsigned 64 bits hold no more, and a larger seed
    failed inside it after the compile); ``None`` (no seed) is fine. The fit, the forecast and
    the monthly run check it before their long work.

    Examples
    --------
    >>> check_seed(None), check_seed(202603)
    (None, None)
    >>> check_seed("202603")  # a forecast's drawn seed is kept as text (attrs["seed"])
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: parameter 'seed', value '202603': seed must be an integer of at least 0, not text: pass int('202603')
    """
    if isinstance(seed, str) and seed.strip().isdecimal():
        raise InputError(f"seed must be an integer of at least 0, not text: pass "
                         f"int({seed!r})", parameter="seed", value=seed)
    if seed is not None:
        whole_number("seed", seed, 0, most)
