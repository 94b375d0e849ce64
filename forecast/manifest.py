"""What a monthly run was made from: input fingerprints, versions, provenance.

A run's *input key* is the SHA-256 of everything that determines its results (the month, the
bytes of every input file, the model spec, seed and sampler settings, the versions of the package
and of the dependencies that compute the draws). Two
runs with the same key are the same run: the registry publishes the first and answers the
second with a no-op. Everything here is a pure function of its arguments, except
:func:`environment`, :func:`computing_versions` and :func:`git_commit`, which describe the
running process.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Mapping

__all__ = [
    "InputFile",
    "RunSettings",
    "sha256_file",
    "fingerprint",
    "input_key",
    "environment",
    "git_commit",
    "DEPENDENCIES",
    "COMPUTING",
    "SAMPLER_COMPUTING",
    "computing_versions",
    "MANIFEST_VERSION",
]

MANIFEST_VERSION = "1"

#: Distributions whose versions every manifest records.
DEPENDENCIES: tuple[str, ...] = (
    "pymc", "pytensor", "nutpie", "numba", "arviz", "numpy", "pandas", "xarray", "scipy",
    "h5netcdf", "pyarrow", "matplotlib", "jinja2", "typer", "rich", "filelock", "pydantic",
)

#: Of :data:`DEPENDENCIES`, those whose version can change a run's draws or tables (the input
#: key holds them); not the command line's, the report's or the file formats'.
COMPUTING: tuple[str, ...] = (
    "pymc", "pytensor", "nutpie", "numba", "arviz", "numpy", "pandas", "xarray", "scipy",
)

#: What computes the draws besides :data:`COMPUTING` for a sampler of an optional extra.
SAMPLER_COMPUTING: dict[str, tuple[str, ...]] = {"numpyro": ("jax", "jaxlib", "numpyro")}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, as hex.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class InputFile:
    """One input file of a run.

    Attributes
    ----------
    role
        What it is: ``observations``, ``catalog``, ``events``, ``spec`` or ``scenario``.
    path
        Where it was read from (absolute).
    sha256, bytes
        Its content's hash and size.
    """

    role: str
    path: Path
    sha256: str
    bytes: int

    @classmethod
    def of(cls, role: str, path: str | Path) -> "InputFile":
        """Fingerprint ``path`` now."""
        p = Path(path).resolve()
        return cls(role=role, path=p, sha256=sha256_file(p), bytes=p.stat().st_size)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class RunSettings:
    """Everything but the input files that determines a run's results.

    Attributes
    ----------
    month
        Forecast origin ``YYYY-MM``.
    spec_name, spec_hash
        The model spec's name and the SHA-256 of its canonical JSON.
    seed
        Random seed of sampling and forecasting.
    sampler, draws, tune, chains
        How the posterior was sampled.
    horizon
        Months forecast ahead.
    preset
        ``default``, ``quick`` or ``custom`` (non-default sampler settings).
    """

    month: str
    spec_name: str
    spec_hash: str
    seed: int
    sampler: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    horizon: int = 12
    preset: str = "default"
    extra: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "month": self.month, "spec_name": self.spec_name, "spec_hash": self.spec_hash,
            "seed": self.seed, "sampler": self.sampler, "draws": self.draws, "tune": self.tune,
            "chains": self.chains, "horizon": self.horizon, "preset": self.preset,
            **({"extra": dict(self.extra)} if self.extra else {}),
        }


def fingerprint(files: Mapping[str, str | Path]) -> dict[str, InputFile]:
    """Fingerprint every input file (role → path), in sorted role order.

    Examples
    --------
    >>> from forecast.datasets import default_paths
    >>> fp = fingerprint({"catalog": default_paths().catalog})
    >>> len(fp["catalog"].sha256)
    64
    """
    return {role: InputFile.of(role, files[role]) for role in sorted(files)}


def input_key(files: Mapping[str, InputFile], settings: RunSettings, version: str,
              dependencies: Mapping[str, str | None] | None = None) -> str:
    """SHA-256 of a run's inputs: file contents (not their paths), settings, package version
    and the versions of the dependencies that compute the draws (:func:`computing_versions`).

    Moving the data directory keeps the key; changing one byte of any input changes it, and so
    does upgrading PyMC or nutpie (the same inputs may then give other draws, so a rerun
    refits instead of keeping the old results).

    Examples
    --------
    >>> s = RunSettings(month="2026-03", spec_name="default", spec_hash="0" * 64, seed=1)
    >>> input_key({}, s, "0.1.0") == input_key({}, s, "0.1.0")
    True
    >>> input_key({}, s, "0.1.0") == input_key({}, s, "0.2.0")
    False
    >>> input_key({}, s, "0.1.0", {"nutpie": "0.16.11"}) == input_key({}, s, "0.1.0",
    ...                                                              {"nutpie": "0.17.0"})
    False
    """
    payload = {
        "files": {role: f.sha256 for role, f in sorted(files.items())},
        "settings": settings.to_dict(),
        "forecast_version": version,
        **({"dependencies": dict(sorted(dependencies.items()))} if dependencies else {}),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def computing_versions(sampler: str = "nutpie") -> dict[str, str | None]:
    """Versions of :data:`COMPUTING`, the dependencies that compute a run's draws and tables,
    and of those that ``sampler`` adds (:data:`SAMPLER_COMPUTING`: JAX's for numpyro): part
    of the input key (:func:`input_key`). ``None`` for one not installed.

    Examples
    --------
    >>> sorted(computing_versions()) == sorted(COMPUTING)
    True
    >>> sorted(set(computing_versions("numpyro")) - set(COMPUTING))
    ['jax', 'jaxlib', 'numpyro']
    """
    return {d: _version(d) for d in COMPUTING + SAMPLER_COMPUTING.get(sampler, ())}


def environment() -> dict:
    """Python, platform, and the versions of the package and its main dependencies.

    Examples
    --------
    >>> env = environment()
    >>> sorted(env)[:3]
    ['dependencies', 'forecast', 'git']
    """
    from forecast import __version__

    return {
        "forecast": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "dependencies": {d: _version(d) for d in DEPENDENCIES},
        "git": git_commit(Path(__file__).resolve().parent.parent),
    }


def git_commit(directory: str | Path) -> dict | None:
    """The git commit of the checkout holding ``directory`` and whether it has local changes;
    ``None`` outside a git checkout (an installed wheel) or without git, and where the checkout
    does not track ``directory/forecast`` (a wheel installed in a virtual environment inside
    some other project's checkout: its commit is not this package's).

    Examples
    --------
    >>> import tempfile
    >>> git_commit(tempfile.mkdtemp()) is None
    True
    """
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                                 text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    if run("rev-parse", "--is-inside-work-tree") != "true":
        return None
    if run("ls-files", "--error-unmatch", "--", "forecast/__init__.py") is None:
        return None
    commit = run("rev-parse", "HEAD")
    if commit is None:
        return None
    status = run("status", "--porcelain", "--untracked-files=no", "--", "forecast")
    return {"commit": commit, "dirty": bool(status)}
