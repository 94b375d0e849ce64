"""The embedded default dataset and model specs, wherever the package is installed.

A wheel ships the repository's ``data/`` as ``forecast/_data`` and ``models/`` as
``forecast/_models`` (see ``pyproject.toml``); an editable checkout has neither, so the
repository's own ``data/`` and ``models/`` are used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from forecast.panel import Panel

__all__ = ["DataPaths", "default_paths", "load_default"]


@dataclass(frozen=True)
class DataPaths:
    """Where the default dataset and model specs live.

    Attributes
    ----------
    observations
        Long table of observations (``observations.csv``).
    catalog
        Signal catalog (``signals.toml``).
    events
        Dated event log (``events.csv``).
    models_dir
        Directory of model specs (``*.toml``).
    """

    observations: Path
    catalog: Path
    events: Path
    models_dir: Path

    @classmethod
    def in_directory(cls, data_dir: str | Path, models_dir: str | Path) -> "DataPaths":
        """The standard file names inside a data directory.

        Examples
        --------
        >>> DataPaths.in_directory("data", "models").catalog.name
        'signals.toml'
        """
        data_dir = Path(data_dir)
        return cls(
            observations=data_dir / "observations.csv",
            catalog=data_dir / "signals.toml",
            events=data_dir / "events.csv",
            models_dir=Path(models_dir),
        )


def default_paths() -> DataPaths:
    """Paths of the embedded dataset and model specs.

    The installed package's ``forecast/_data`` and ``forecast/_models`` when present (a wheel),
    else the repository's ``data/`` and ``models/`` (an editable checkout).

    Examples
    --------
    >>> paths = default_paths()
    >>> paths.catalog.name, paths.models_dir.is_dir()
    ('signals.toml', True)
    """
    package = resources.files("forecast")
    installed_data = package / "_data"
    installed_models = package / "_models"
    if installed_data.is_dir() and installed_models.is_dir():
        return DataPaths.in_directory(Path(str(installed_data)), Path(str(installed_models)))
    repo = Path(__file__).resolve().parent.parent
    return DataPaths.in_directory(repo / "data", repo / "models")


def load_default(until: str | None = None) -> Panel:
    """The embedded default panel: ``data/observations.csv`` with ``data/signals.toml`` and the
    event log ``data/events.csv``.

    Parameters
    ----------
    until
        Optional forecast month ``YYYY-MM`` (data after it are an error; the grid ends there).

    Examples
    --------
    >>> panel = load_default()
    >>> panel.months.freqstr, "JPN" in panel.allies
    ('M', True)
    """
    return load_from(default_paths(), until=until)


def load_from(paths: DataPaths, until: str | None = None) -> Panel:
    """Load the panel that a :class:`DataPaths` points to (see :func:`load_default`)."""
    from forecast.loading import load_panel

    return load_panel(paths.observations, catalog=paths.catalog, events=paths.events,
                      until=until)
