"""A published run's own files as the report reads them back: ``manifest.json`` and
``diagnostics.json`` checked against what it uses, and the outputs the manifest lists.

The monthly run writes these files; ``forecast report`` reads them back. A file edited by
hand, or damaged, is refused here with an
:class:`~forecast.errors.InputError` naming the file, the key and what it holds, instead of a
traceback (or a false sentence) wherever the value is first used. The checks are strict: the
text ``"false"`` is not false, ``"4"`` is not a number of chains.

Examples
--------
>>> check_manifest({"settings": {"spec_name": "default", "sampler": "nutpie", "chains": 4,
...                              "draws": 1000, "tune": 1000, "seed": 1}}, "manifest.json")
>>> check_manifest({"settings": {"spec_name": "default", "sampler": "nutpie", "chains": "4",
...                              "draws": 1000, "tune": 1000, "seed": 1}}, "manifest.json")
Traceback (most recent call last):
...
forecast.errors.InputError: manifest.json: expected a whole number for 'settings.chains', found a string ('4')
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from forecast.errors import InputError
from forecast.runs import json_kind
from forecast.tabular import exact_month

__all__ = ["check_manifest", "check_diagnostics", "missing_outputs", "altered_outputs",
           "unlisted_outputs", "OUTPUTS_OF_RUN", "RUN_WRITES", "SIGNAL_ABOUT",
           "SCENARIO_WRITES", "WALK_WRITES"]

#: the files of a run that the manifest's ``outputs`` lists (with their sha256)
OUTPUTS_OF_RUN = "outputs"

#: what every run writes besides its posterior and the report reads (a scenario's tables only
#: with a scenario)
RUN_WRITES = ("headline.csv", "forecast.csv", "credibility.csv", "attribution.csv",
              "early_warnings.csv", "coverage.csv", "outcome.csv", "diagnostics.json")
#: what a run with a scenario writes besides
SCENARIO_WRITES = ("scenario.csv", "scenario_overrides.csv")
#: what a run whose spec walks hedging's level writes besides (decision 0032)
WALK_WRITES = ("hedging_level.csv",)


class _Read(BaseModel):
    """A JSON object as read back: the keys named here must have their types; others pass."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Settings(_Read):
    spec_name: str
    sampler: str
    chains: int
    draws: int
    tune: int
    seed: Optional[int]
    horizon: int = 12
    preset: str = "default"


class _RunOn(_Read):
    draws: int
    first_draws: int
    first_failures: list[str]
    same_chains: bool


class _EarlyWarning(_Read):
    threshold: float
    within: int


class _Input(_Read):
    path: str
    sha256: str


class _Data(_Read):
    embedded: bool = False
    allies: list[str] = []
    signals: list[str] = []
    first_month: str = ""
    last_month: str = ""
    last_observed_month: Optional[str] = None
    first_data: dict[str, Optional[str]] = {}  # none in a run published before 2026-12-02

    @field_validator("first_data")
    @classmethod
    def _months(cls, value: dict[str, Optional[str]]) -> dict[str, Optional[str]]:
        """The fan charts draw from these months: each must be one."""
        for ally, month in value.items():
            if month is not None and exact_month(month) is None:
                raise ValueError(f"expected a month YYYY-MM or null for {ally!r}, found "
                                 f"{month!r}")
        return value
    warnings: list[str] = []


class _SignalAbout(_Read):
    family: str = ""
    frequency: str = ""
    unit: str = ""
    description: str = ""


#: what the manifest's ``catalog.about`` says of each signal (the report's table of signals)
SIGNAL_ABOUT = tuple(_SignalAbout.model_fields)


class _Catalog(_Read):
    allies: dict[str, str] = {}
    signals: dict[str, str] = {}
    about: dict[str, _SignalAbout] = {}  # none in a run published before 2026-12-02


class _Git(_Read):
    commit: str = ""
    dirty: bool = False


class _Environment(_Read):
    forecast: str = "?"
    python: str = "?"
    platform: str = "?"
    dependencies: dict[str, Optional[str]] = {}
    git: Optional[_Git] = None


class _Scenario(_Read):
    name: str = ""
    description: str = ""


class _Manifest(_Read):
    settings: _Settings = None  # type: ignore[assignment]  # check_manifest: must be there
    month: str = "?"
    run: Optional[str] = None
    revision: int = 1
    created: str = ""
    input_key: str = ""
    quick: bool = False
    forced: bool = False
    converged: Optional[bool] = None
    gate_failures: list[str] = []
    run_on: Optional[_RunOn] = None
    previous_run: Optional[str] = None
    previous_run_caveats: list[str] = []
    previous_run_gap: Optional[str] = None
    early_warning: Optional[_EarlyWarning] = None
    inputs: dict[str, _Input] = {}
    scenario: Optional[_Scenario] = None
    data: _Data = _Data()
    catalog: _Catalog = _Catalog()
    environment: _Environment = _Environment()
    timings: dict[str, Optional[float]] = {}
    outputs: dict[str, str] = {}


class _Check(_Read):
    check: str
    value: Optional[float]
    required: str
    ok: bool


class _Diagnostics(_Read):
    converged: bool = False
    max_rhat: Optional[float] = None
    min_ess_bulk: Optional[float] = None
    min_ess_tail: Optional[float] = None
    divergences: Optional[int] = None
    failures: list[str] = []
    table: list[_Check] = []
    worst: list[dict] = []

    @model_validator(mode="before")
    @classmethod
    def _converged_has_its_figures(cls, data):
        """A converged run's banner shows these three figures: they must be there."""
        if isinstance(data, dict) and data.get("converged") is True:
            for key in ("max_rhat", "min_ess_bulk", "divergences"):
                if key not in data:
                    raise ValueError(f"missing key {key!r}")
        return data


_EXPECTED = {
    "int_type": "a whole number", "float_type": "a number", "string_type": "text",
    "bool_type": "true or false", "list_type": "a list", "dict_type": "a JSON object",
    "model_type": "a JSON object", "model_attributes_type": "a JSON object",
}


def _kind(value) -> str:
    """What a parsed JSON value is, for a message (the value itself where it is short)."""
    kind = json_kind(value)
    shown = isinstance(value, (str, int, float)) and not isinstance(value, bool)
    return f"{kind} ({value!r})" if shown and len(repr(value)) <= 40 else kind


def _validated(schema: type[_Read], data: dict, file: str | Path, needs: str) -> None:
    try:
        schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if first["type"] == "missing":
            message = f"missing key {key!r}: {needs}"
        elif first["type"] in _EXPECTED:
            message = f"expected {_EXPECTED[first['type']]} for {key!r}, found " \
                f"{_kind(first['input'])}"
        else:
            message = (f"{key!r}: " if key else "") + first["msg"].removeprefix("Value error, ")
        raise InputError(message, file=str(file)) from None


def check_manifest(manifest: dict, file: str | Path, needs: str = "the report needs it"
                   ) -> None:
    """Refuse a run's manifest without ``settings``, or whose keys lack what the report uses
    or have another type. (The registry reads its manifests more leniently, for the few keys
    it uses: ``forecast list`` still lists a run whose report this refuses.)

    ``needs`` ends the message about a missing key: who reads it.

    Raises
    ------
    forecast.InputError
        Naming ``file`` and the first key at fault.
    """
    if "settings" not in manifest:
        raise InputError(f"missing key 'settings': {needs}", file=str(file))
    _validated(_Manifest, manifest, file, needs)


def check_diagnostics(diagnostics: dict, file: str | Path) -> None:
    """Refuse a run's ``diagnostics.json`` whose keys have another type than written, or a
    converged run's without the figures its banner shows.

    Raises
    ------
    forecast.InputError
        Naming ``file`` and the first key at fault.
    """
    _validated(_Diagnostics, diagnostics, file, "the report needs it")


def missing_outputs(run_dir: Path, manifest: dict, read: Iterable[str]) -> list[str]:
    """Of the files in ``read``, those the manifest lists as the run's outputs that are not
    in ``run_dir`` (a file the run did not write, a scenario's table without a scenario, is
    not missing).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "forecast.csv").write_text("ally\\n")
    >>> listed = {"outputs": {"forecast.csv": "…", "headline.csv": "…", "posterior.nc": "…"}}
    >>> missing_outputs(d, listed, ["forecast.csv", "headline.csv", "scenario.csv"])
    ['headline.csv']
    """
    listed = manifest.get(OUTPUTS_OF_RUN)
    if not isinstance(listed, dict):
        return []
    return [name for name in read if name in listed and not _is_file(run_dir / name)]


def altered_outputs(run_dir: Path, manifest: dict, read: Iterable[str]) -> list[str]:
    """The files among ``read`` whose bytes are no longer those the manifest recorded for
    them (its ``outputs`` hashes): a run's files are never written again once published, so
    such a file was edited or damaged since. Files it does not list, or that are gone
    (:func:`missing_outputs`), are not compared.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "headline.csv").write_text("x")
    >>> sha = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    >>> altered_outputs(d, {"outputs": {"headline.csv": sha}}, ["headline.csv"])
    []
    >>> _ = (d / "headline.csv").write_text("y")
    >>> altered_outputs(d, {"outputs": {"headline.csv": sha}}, ["headline.csv"])
    ['headline.csv']
    """
    from forecast.manifest import sha256_file

    listed = manifest.get(OUTPUTS_OF_RUN)
    if not isinstance(listed, dict):
        return []
    return [name for name in read if isinstance(listed.get(name), str)
            and _is_file(run_dir / name) and sha256_file(run_dir / name) != listed[name]]


def unlisted_outputs(run_dir: Path, manifest: dict, read: Iterable[str],
                     always: Iterable[str] = ()) -> list[str]:
    """Of the files in ``read``, those that the manifest's ``outputs`` does not list with a
    hash, though they are in ``run_dir`` or among ``always`` (what every run writes): a run
    lists each file it writes, so nothing vouches for such a file, or for its absence (the
    manifest was edited, or the file put there by hand).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "scenario.csv").write_text("ally\\n")
    >>> listed = {"outputs": {"forecast.csv": "…"}}
    >>> unlisted_outputs(d, listed, ["forecast.csv", "scenario.csv", "outcome.csv"])
    ['scenario.csv']
    >>> unlisted_outputs(d, listed, ["forecast.csv", "outcome.csv"], always=["outcome.csv"])
    ['outcome.csv']
    """
    listed = manifest.get(OUTPUTS_OF_RUN)
    listed = listed if isinstance(listed, dict) else {}
    always = set(always)
    return [name for name in read if not isinstance(listed.get(name), str)
            and (name in always or _is_file(run_dir / name))]


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False where the name cannot be looked up at all (a hand-edited
    manifest may list a name too long for the file system, which ``is_file`` raises on)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
