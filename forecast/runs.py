"""The run registry: published monthly runs, staged writes, a lock and atomic publication.

Layout of a registry directory (``runs/`` by default)::

    runs/
      2026-02/            first revision of the 2026-02 run
      2026-03/            first revision of the 2026-03 run
      2026-03-r2/         second revision: same month, changed inputs
      .lock               held while publishing (filelock)
      .staging/           runs in progress (hidden; removed when their process is gone)
      .failed/            diagnostics.json and run.log of runs refused by the convergence gate

A published run directory is complete and immutable: it is written in full under
``.staging/`` and then moved into place by one ``rename``, so a run that is interrupted at any
point (Ctrl-C, ``kill -9``, full disk) leaves the published directories exactly as they were.
A directory is a published run when its name is ``YYYY-MM`` or ``YYYY-MM-rN`` (N ≥ 2) and it
holds a readable ``manifest.json`` (a JSON object) whose month and run are those of its name;
:meth:`Registry.unreadable` names the entries with a run's name that are not (a file, a dead
link, a folder without such a manifest, or holding another run's).

Publication happens under the registry lock and re-checks, inside the lock, whether a run with
the same input key was published meanwhile (then nothing is published: identical inputs are a
no-op) and which revision number is next, so concurrent runs can neither overwrite each other
nor collide on a name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, TypeVar

from filelock import FileLock, Timeout

from forecast.errors import InputError
from forecast.tabular import MONTH_PATTERN, check_month, parse_month

__all__ = [
    "PublishedRun",
    "UnreadableRun",
    "Publication",
    "Registry",
    "RegistryBusy",
    "run_name",
    "parse_run_name",
    "LOCK_NAME",
    "STAGING_NAME",
    "FAILED_NAME",
    "parse_file",
    "read_json_object",
    "json_object",
    "json_kind",
]

LOCK_NAME = ".lock"
STAGING_NAME = ".staging"
FAILED_NAME = ".failed"
MANIFEST = "manifest.json"
#: the input files that hold a month's data (as against its settings: spec, scenario)
DATA_ROLES = ("observations", "catalog", "events")
#: the change since last month compares the probability of hedging within this many months
#: (the headline's change, the early warnings' previous value): a baseline forecast fewer
#: months ahead has none to compare
COMPARED_WITHIN = 3
_T = TypeVar("_T")
_NAME_RE = re.compile(
    rf"(?P<month>{MONTH_PATTERN})(?:-r(?P<rev>[2-9]|[1-9][0-9]+))?")


class RegistryBusy(RuntimeError):
    """The registry lock could not be acquired in time (another run is publishing)."""


def run_name(month: str, revision: int) -> str:
    """Directory name of a revision of a month's run.

    Examples
    --------
    >>> run_name("2026-03", 1), run_name("2026-03", 2)
    ('2026-03', '2026-03-r2')
    """
    if revision < 1:
        raise ValueError(f"revision must be at least 1, got {revision}")
    return month if revision == 1 else f"{month}-r{revision}"


def json_kind(value) -> str:
    """What a parsed JSON value is, for a message.

    Examples
    --------
    >>> json_kind(None), json_kind(False), json_kind([1]), json_kind({}), json_kind("4")
    ('null', 'false', 'a list', 'a JSON object', 'a string')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    kinds = {list: "a list", dict: "a JSON object", str: "a string", int: "a number",
             float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def json_object(value, file: str | Path, key: str | None = None) -> dict:
    """``value`` if it is a JSON object (a dict), else
    :class:`~forecast.errors.InputError` naming ``file`` (and ``key``, the place of ``value``
    in it).

    Examples
    --------
    >>> json_object({"seed": 1}, "manifest.json", "settings")
    {'seed': 1}
    >>> json_object(None, "manifest.json", "settings")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    forecast.errors.InputError: manifest.json: expected a JSON object for 'settings', found null
    """
    if isinstance(value, dict):
        return value
    where = "" if key is None else f" for {key!r}"
    raise InputError(f"expected a JSON object{where}, found {json_kind(value)}",
                     file=str(file))


def parse_file(file: str | Path, kind: str, parse: Callable[[str], _T]) -> _T:
    """``parse`` applied to the text of ``file``, read as UTF-8.

    Parameters
    ----------
    file
        The file.
    kind
        What it should hold, for the message (``"JSON"``, ``"CSV"``).
    parse
        Text → value; raises :class:`ValueError` (or a subclass) on malformed text.

    Raises
    ------
    forecast.InputError
        Naming ``file``, when it cannot be read, is not UTF-8 or ``parse`` refuses it (a
        truncated file, say).
    """
    try:
        return parse(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", file=str(file)) from None
    except ValueError as exc:
        raise InputError(f"unreadable {kind} ({exc})", file=str(file)) from None


def read_json_object(file: str | Path) -> dict:
    """The JSON object that ``file`` holds.

    Raises
    ------
    forecast.InputError
        Naming ``file``, when it cannot be read, is not UTF-8 JSON (a truncated file, say) or
        holds something other than an object (``null``, a list).
    """
    return json_object(parse_file(file, "JSON", json.loads), file)


def parse_run_name(name: str) -> tuple[str, int] | None:
    """``(month, revision)`` of a run directory name, or ``None`` if it is not one.

    Examples
    --------
    >>> parse_run_name("2026-03-r2"), parse_run_name("2026-03"), parse_run_name(".staging")
    (('2026-03', 2), ('2026-03', 1), None)
    """
    m = _NAME_RE.fullmatch(name)
    if m is None:
        return None
    return m["month"], int(m["rev"] or 1)


@dataclass(frozen=True)
class PublishedRun:
    """One published run directory.

    Attributes
    ----------
    path
        The run directory.
    month, revision
        What its name says.
    manifest
        The parsed ``manifest.json``.
    """

    path: Path
    month: str
    revision: int
    manifest: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def input_key(self) -> str | None:
        return self.manifest.get("input_key")

    @property
    def forced(self) -> bool:
        # only a JSON true: the string "false" is truthy
        return self.manifest.get("forced") is True

    @property
    def converged(self) -> bool:
        """Whether the manifest says the fit passed the convergence checks (a JSON true)."""
        return self.manifest.get("converged") is True

    @property
    def preset(self) -> str:
        return str(self.manifest.get("settings", {}).get("preset", "default"))

    @property
    def caveats(self) -> list[str]:
        """What makes the run a poor baseline: a forced publication of a fit that failed the
        convergence checks, a quick (smoke-test) preset. Empty for a sound run."""
        out = ["FORCED: not converged"] if self.forced else []
        return out + (["quick preset"] if self.preset == "quick" else [])

    @property
    def data(self) -> dict[str, object]:
        """The SHA-256 of each of the run's data files (:data:`DATA_ROLES`; ``None`` for one it
        had not, an event log say), from its manifest: what two revisions of a month must share
        to have fitted the same data."""
        inputs = self.manifest.get("inputs")
        inputs = inputs if isinstance(inputs, Mapping) else {}
        return {role: inputs[role].get("sha256") if isinstance(inputs.get(role), Mapping)
                else None for role in DATA_ROLES}

    def differences(self, settings: Mapping | None) -> list[str]:
        """How this run was made otherwise than a run with ``settings`` (a manifest's
        ``settings``) would be, in ways that make it a poor baseline for that run's change
        since last month, the gravest first: another spec (a change of model would pass for a
        change of data), another sampler, or fewer draws. Empty when ``settings`` is ``None``.
        (A horizon too short to compare is said by the monthly run, with what it leaves out.)

        Examples
        --------
        >>> run = PublishedRun(Path("2026-02"), "2026-02", 1, {"settings": {
        ...     "spec_name": "static", "spec_hash": "a", "sampler": "nutpie", "chains": 2,
        ...     "draws": 50}})
        >>> run.differences({"spec_name": "default", "spec_hash": "b", "sampler": "nutpie",
        ...                  "chains": 4, "draws": 1000})
        ['spec static, not default', '2 × 50 draws, not 4 × 1000']
        """
        return [text for _, text in self._differences(settings)]

    def _differences(self, settings: Mapping | None) -> list[tuple[int, str]]:
        """:meth:`differences` with each one's gravity: 0 (spec), 1 (sampler) or 2 (draws)."""
        if settings is None:
            return []
        mine = self.manifest.get("settings", {})
        out = []
        if mine.get("spec_hash") != settings.get("spec_hash"):
            name = mine.get("spec_name", "?")
            out.append((0, f"spec {name}, not {settings.get('spec_name')}"
                        if name != settings.get("spec_name")
                        else f"spec {name} with other settings"))
        if mine.get("sampler") != settings.get("sampler"):
            out.append((1, f"sampler {mine.get('sampler', '?')}, not {settings.get('sampler')}"))
        try:
            fewer = mine["chains"] * mine["draws"] < settings["chains"] * settings["draws"]
        except (KeyError, TypeError):
            fewer = False
        if fewer:
            out.append((2, f"{mine['chains']} × {mine['draws']} draws, not "
                           f"{settings['chains']} × {settings['draws']}"))
        return out

    def unlikeness(self, settings: Mapping | None) -> tuple[bool, ...]:
        """Which kinds of :meth:`differences` the run has, the gravest first, then whether
        its horizon is too short to give the probability of hedging within
        :data:`COMPARED_WITHIN` months: the smaller, the better a baseline for a run with
        ``settings`` (another spec outweighs any number of draws).

        Examples
        --------
        >>> run = PublishedRun(Path("2026-02"), "2026-02", 1, {"settings": {
        ...     "spec_hash": "a", "sampler": "nutpie", "chains": 4, "draws": 1000,
        ...     "horizon": 2}})
        >>> run.unlikeness({"spec_hash": "a", "sampler": "nutpie", "chains": 4,
        ...                 "draws": 1000, "horizon": 12})
        (False, False, False, True)
        """
        kinds = {kind for kind, _ in self._differences(settings)}
        mine = self.manifest.get("settings", {})
        try:
            short = mine["horizon"] < min(COMPARED_WITHIN, settings["horizon"])
        except (KeyError, TypeError):
            short = False
        return (*(kind in kinds for kind in range(3)), short)

    @classmethod
    def read(cls, path: Path) -> "PublishedRun | None":
        """The run at ``path``, or ``None`` if it is not a published run (see :meth:`load`)."""
        try:
            return cls.load(path)
        except InputError:
            return None

    @classmethod
    def load(cls, path: Path) -> "PublishedRun | None":
        """The run at ``path``, or ``None`` if its name is not a run's.

        Raises
        ------
        forecast.InputError
            When ``path`` has a run's name but no readable manifest: none, one that is not
            JSON (truncated, not UTF-8), not an object, whose ``settings`` is not an object,
            or in which a key the registry reads has another type (``"forced": "true"``);
            or it is no folder, or its manifest is another run's (:func:`other_runs_manifest`).
        """
        parsed = parse_run_name(path.name)
        if parsed is None:
            return None
        manifest = path / MANIFEST
        try:
            folder, there = path.is_dir(), manifest.is_file()
        except OSError as exc:  # a folder that cannot be searched (permissions)
            raise InputError(f"cannot be read ({exc.strerror})", file=str(path)) from None
        if not folder:
            raise InputError("not a folder (a file, or a link to nothing) with a run's name: "
                             "it stops that month's publication", file=str(path))
        if not there:
            raise InputError(f"no {MANIFEST}", file=str(path))
        data = read_json_object(manifest)
        if "settings" in data:
            json_object(data["settings"], manifest, "settings")
        _check_registry_keys(data, manifest)
        if other := other_runs_manifest(path, data):
            raise InputError(other, file=str(manifest))
        return cls(path=path, month=parsed[0], revision=parsed[1], manifest=data)


#: the manifest's keys the registry reads (listing, choosing a baseline) and their JSON types:
#: a run whose manifest gives another type is unreadable, never listed as sound (the string
#: "true" for ``forced`` had read as not forced)
_REGISTRY_KEYS = {("forced",): bool, ("converged",): bool, ("input_key",): str,
                  ("settings", "preset"): str, ("settings", "spec_name"): str,
                  ("settings", "spec_hash"): str, ("settings", "sampler"): str,
                  ("settings", "chains"): int, ("settings", "draws"): int}


def _check_registry_keys(manifest: Mapping, file: Path) -> None:
    """Refuse a manifest in which a key the registry reads has another JSON type."""
    kinds = {bool: "true or false", str: "text", int: "a whole number"}
    for keys, kind in _REGISTRY_KEYS.items():
        where: object = manifest
        for key in keys:
            where = where.get(key) if isinstance(where, Mapping) else None
        if where is None:
            continue  # absent: read as the registry's default (an older run's manifest)
        if not isinstance(where, kind) or (kind is int and isinstance(where, bool)):
            raise InputError(f"expected {kinds[kind]} for {'.'.join(keys)!r}, found "
                             f"{json_kind(where)}", file=str(file))


def other_runs_manifest(path: Path, manifest: Mapping) -> str | None:
    """Why the run folder ``path`` holds another run's manifest (its ``month`` or ``run``
    is not the folder's name: a run copied or renamed by hand, or a link to another run),
    or ``None``. A folder without a run's name (a copy to look at) is not compared.

    Examples
    --------
    >>> other_runs_manifest(Path("runs/2026-04"), {"month": "2026-03", "run": "2026-03-r2"})[:46]
    'the manifest of run 2026-03-r2, not of 2026-04'
    >>> other_runs_manifest(Path("runs/2026-03-r2"), {"month": "2026-03", "run": "2026-03-r2"})
    >>> other_runs_manifest(Path("copy"), {"month": "2026-03"}) is None
    True
    """
    parsed = parse_run_name(path.name)
    if parsed is None:
        return None
    month, run = manifest.get("month"), manifest.get("run")
    if (isinstance(month, str) and month != parsed[0]) or (isinstance(run, str)
                                                           and run != path.name):
        whose = (f"run {run}" if isinstance(run, str) and run != path.name
                 else f"a run of {month}")
        return (f"the manifest of {whose}, not of {path.name}: a run copied, renamed or "
                "linked by hand; a run's month and revision are its manifest's (restore it "
                "under its own name)")
    return None


def own_manifest(path: Path) -> dict | None:
    """The manifest of the run folder ``path`` (``None`` when it has none).

    Raises
    ------
    forecast.InputError
        When it is not a JSON object, or is another run's (:func:`other_runs_manifest`).
    """
    file = path / MANIFEST
    if not file.is_file():
        return None
    manifest = read_json_object(file)
    if other := other_runs_manifest(path, manifest):
        raise InputError(other, file=str(file))
    return manifest


@dataclass(frozen=True)
class UnreadableRun:
    """An entry with a run's name that is not a published run: a file or dead link, or a
    folder with no readable manifest or another run's (see :meth:`PublishedRun.load`), so the
    registry leaves it out.

    Attributes
    ----------
    path
        The directory.
    reason
        Why, naming the file at fault (the message of the
        :class:`~forecast.errors.InputError` that reading it raised).
    """

    path: Path
    reason: str

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Publication:
    """What :meth:`Registry.publish` did.

    Attributes
    ----------
    run
        The published run, or the already published run with identical inputs.
    published
        ``False`` when identical inputs had already been published (a no-op).
    """

    run: PublishedRun
    published: bool


def _current(runs: list[PublishedRun]) -> list[PublishedRun]:
    """``runs`` (in the registry's order) less the revisions whose data a later revision of
    their month corrected: a month's data are those of its newest revision. A later revision
    made from the same data (another spec, a smoke test) leaves the earlier ones current."""
    newest = {r.month: r.data for r in runs}
    return [r for r in runs if r.data == newest[r.month]]


def _soundest(runs: list[PublishedRun], like: Mapping | None = None) -> PublishedRun | None:
    """Of the current revisions of ``runs`` (:func:`_current`), the last without caveats,
    else the last; given the settings ``like`` of the run that will compare with it, the last
    current revision of that one's month made most as that run is
    (:meth:`PublishedRun.unlikeness`: alike where one is; a run of the same spec with fewer
    draws before one of another spec). Only of that month: a run made alike a year earlier is
    no "last month"; and only from the month's current data: a revision made alike before a
    correction is no baseline."""
    runs = _current(runs)
    pool = [r for r in runs if not r.caveats] or runs
    if not pool:
        return None
    newest = pool[-1]
    if like is None:
        return newest
    month = [r for r in pool if r.month == newest.month]
    # min keeps the first of equals: reversed, the newest
    return min(reversed(month), key=lambda r: r.unlikeness(like))


class Registry:
    """A directory of published monthly runs.

    Parameters
    ----------
    root
        The registry directory (created on first publication).
    lock_timeout
        Seconds to wait for the registry lock before :class:`RegistryBusy`.

    Examples
    --------
    >>> import tempfile
    >>> reg = Registry(tempfile.mkdtemp())
    >>> reg.runs(), reg.next_revision("2026-03")
    ([], 1)
    """

    def __init__(self, root: str | Path, *, lock_timeout: float = 600.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        if self.root.exists() and not self.root.is_dir():
            raise InputError("the run registry must be a directory (or not exist yet), "
                             "not a file", file=str(self.root))
        if (self.root / MANIFEST).is_file():  # --out runs/2026-03 for --out runs
            raise InputError("this is a run's own directory, not a registry: expected the "
                             f"folder that holds it ({self.root.parent})", file=str(self.root))

    # ------------------------------------------------------------------ reading
    def _run_dirs(self, month: str | None) -> list[Path]:
        """The directories with a run's name (of ``month``, or any), readable or not."""
        if not self.root.is_dir():
            return []
        # every kind of entry: a file or a dead link with a run's name blocks that month
        return [p for p in self.root.iterdir()
                if (parsed := parse_run_name(p.name)) is not None
                and month in (None, parsed[0])]

    def runs(self, month: str | None = None) -> list[PublishedRun]:
        """Published runs (of one month, or all), by month then revision."""
        found = [PublishedRun.read(p) for p in self._run_dirs(month)]
        return sorted((r for r in found if r is not None), key=lambda r: (r.month, r.revision))

    def unreadable(self, month: str | None = None) -> list[UnreadableRun]:
        """Entries with a run's name (of one month, or all) that :meth:`runs` leaves out
        (:meth:`PublishedRun.load` refuses them), by name, each with the reason: what a
        listing of the runs should warn about.

        Examples
        --------
        >>> import tempfile
        >>> reg = Registry(tempfile.mkdtemp())
        >>> (reg.root / "2026-03").mkdir()
        >>> [(u.name, u.reason.endswith("2026-03: no manifest.json")) for u in reg.unreadable()]
        [('2026-03', True)]
        """
        out = []
        for path in self._run_dirs(month):
            try:
                PublishedRun.load(path)
            except InputError as exc:
                out.append(UnreadableRun(path, str(exc)))
        return sorted(out, key=lambda u: u.name)

    def latest(self, month: str | None = None) -> PublishedRun | None:
        """The newest revision of ``month`` (or of the latest month)."""
        runs = self.runs(month)
        return runs[-1] if runs else None

    def previous(self, month: str, like: Mapping | None = None) -> PublishedRun | None:
        """What "change since last month" compares with: of the revisions made from their
        month's current data (:func:`_current`), the newest run before ``month``
        without :attr:`~PublishedRun.caveats` (not forced, not quick) and, given the
        settings ``like`` of the run that compares, the newest revision of that run's month
        made most as it is (:meth:`~PublishedRun.unlikeness`: alike where one is; else the
        same spec before another, then the same sampler, as many draws, a horizon that gives
        the months compared). A forced smoke test, or an experiment with another spec
        published after a sound run of the same month, does not become the baseline."""
        return _soundest([r for r in self.runs() if r.month < month], like)

    def gap(self, month: str, chosen: PublishedRun | None) -> str | None:
        """How far back ``chosen`` (what :meth:`previous` gave for ``month``) lies when it is
        not of the month before, and why the months between were passed over: a change since
        "last month" that spans several must say so. ``None`` for the month before, or no
        baseline.

        Examples
        --------
        >>> import tempfile
        >>> reg = Registry(tempfile.mkdtemp())
        >>> run = PublishedRun(reg.root / "2026-01", "2026-01", 1, {})
        >>> reg.gap("2026-02", run) is None, reg.gap("2026-04", run)
        (True, 'a change over 3 months, from 2026-01: no run in between')
        """
        check_month(month)
        if chosen is None:
            return None
        span = parse_month(month) - parse_month(chosen.month)
        if span <= 1:
            return None

        def between(months) -> set[str]:
            return {m for m in months if chosen.month < m < month}

        readable = between(r.month for r in self.runs())
        why = {m: "every revision of its current data forced or quick" for m in readable}
        why |= {m: "no readable run" for m in
                between(parse_run_name(u.name)[0] for u in self.unreadable()) - readable}
        passed = [f"{m} ({why[m]})" for m in sorted(why)]  # in date order
        return (f"a change over {span} months, from {chosen.month}: "
                + (f"passed over {', '.join(passed)}" if passed else "no run in between"))

    def reference(self) -> PublishedRun | None:
        """The newest current run (:func:`_current`) without caveats, else the newest: a
        scenario's default baseline."""
        return _soundest(self.runs())

    def find_identical(self, month: str, key: str) -> PublishedRun | None:
        """The newest revision of ``month`` whose input key is ``key``, among those made from
        the month's current data (the newest revision's: :func:`_current`).

        Inputs that match a revision whose data a later one corrected (the correction then
        undone) are published again as a new revision, so that the newest revision always
        holds the month's data as they now stand (``forecast list``'s latest). A revision
        from the same data with other settings (a smoke test, another spec) published since
        does not make the production run's rerun a refit.
        """
        found = [r for r in _current(self.runs(month)) if r.input_key == key]
        return found[-1] if found else None

    def next_revision(self, month: str) -> int:
        """The revision number the next publication of ``month`` gets."""
        runs = self.runs(month)
        return runs[-1].revision + 1 if runs else 1

    def path_for(self, month: str, revision: int) -> Path:
        return self.root / run_name(month, revision)

    def check_free(self, month: str) -> None:
        """Raise :class:`~forecast.errors.InputError` if the next revision's directory is
        taken by something that is not a published run (see :meth:`PublishedRun.load`): the
        publication could not rename onto it. Checked before a run's work begins, and again
        at publication."""
        path = self.path_for(month, self.next_revision(month))
        if path.exists() or path.is_symlink():
            try:
                PublishedRun.load(path)
                why = "it holds another run"  # not reached: a readable run is a revision
            except InputError as exc:
                why = exc.reason
            raise InputError(f"{path.name} in the registry is not a published run ({why}), so "
                             "this month cannot be published there; move it out of the "
                             "registry and rerun", file=str(path))

    # ------------------------------------------------------------------ locking
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the registry lock (raises :class:`RegistryBusy` after ``lock_timeout``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.root / LOCK_NAME, timeout=self.lock_timeout, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise RegistryBusy(
                f"{self.root}: the registry is locked by another run for more than "
                f"{self.lock_timeout:.0f} s ({self.root / LOCK_NAME})") from None
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------------ staging
    @contextmanager
    def staging(self, label: str) -> Iterator[Path]:
        """A fresh staging directory for one run, removed on exit unless it was published.

        The directory's own lock file is held for as long as the run lives, so a later run can
        tell a live staging directory from one left behind by a killed process
        (see :meth:`clean_stale`).
        """
        area = self.root / STAGING_NAME
        area.mkdir(parents=True, exist_ok=True)
        self.clean_stale()
        ident = f"{label}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        lock = FileLock(area / f"{ident}.lock", timeout=0, thread_local=False)
        lock.acquire()
        path = area / ident
        try:
            path.mkdir()
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            lock.release()
            _unlink(area / f"{ident}.lock")

    def clean_stale(self) -> list[str]:
        """Remove staging directories whose process is gone; returns their names."""
        area = self.root / STAGING_NAME
        if not area.is_dir():
            return []
        removed = []
        for path in sorted(area.iterdir()):
            if not path.is_dir():
                continue
            lock = FileLock(area / f"{path.name}.lock", timeout=0, thread_local=False)
            try:
                lock.acquire()
            except Timeout:
                continue  # its run is alive
            try:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
            finally:
                lock.release()
                _unlink(area / f"{path.name}.lock")
        return removed

    def failed(self, month: str | None = None) -> list[Path]:
        """Folders of refused runs kept by :meth:`keep_failed` (of one month, or all), oldest
        first. A folder is named as its staging directory was, after the month."""
        area = self.root / FAILED_NAME
        if not area.is_dir():
            return []
        return sorted((p for p in area.iterdir() if p.is_dir()
                       and (month is None or p.name.startswith(f"{month}-"))),
                      key=lambda p: p.stat().st_mtime)

    def keep_failed(self, staged: Path, names: tuple[str, ...]) -> Path:
        """Copy some files of a staged run that will not be published (e.g. refused by the
        convergence gate) to ``.failed/<staging name>/`` for inspection; returns that folder.

        ``.failed`` is outside the published runs: keeping them changes no published run.
        """
        target = self.root / FAILED_NAME / staged.name
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            if (staged / name).is_file():
                shutil.copy2(staged / name, target / name)
        return target

    # ------------------------------------------------------------------ publishing
    def publish(
        self,
        staged: Path,
        month: str,
        key: str,
        finalize: Callable[[Path, int], None] | None = None,
    ) -> Publication:
        """Move a complete staged run into the registry, atomically and under the lock.

        Parameters
        ----------
        staged
            The staging directory (from :meth:`staging`), complete but for what ``finalize``
            writes.
        month
            The run's month.
        key
            The run's input key: if a run of ``month`` with this key is already published,
            nothing is published and that run is returned.
        finalize
            Called under the lock as ``finalize(staged, revision)`` just before the rename:
            writes what depends on the revision number (the manifest, the report).

        Returns
        -------
        Publication
        """
        with self.lock():
            same = self.find_identical(month, key)
            if same is not None:
                return Publication(same, published=False)
            self.check_free(month)
            revision = self.next_revision(month)
            if finalize is not None:
                finalize(staged, revision)
            _fsync_tree(staged)
            target = self.path_for(month, revision)
            os.rename(staged, target)  # atomic; fails rather than overwrite an existing run
            _fsync_dir(self.root)
            run = PublishedRun.read(target)
            assert run is not None, f"published {target} has no readable manifest"
            return Publication(run, published=True)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _fsync_tree(directory: Path) -> None:
    """Flush every file and the directory itself to disk before the rename publishes them."""
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
