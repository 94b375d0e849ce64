"""Writing a file so that no reader ever sees half of it: through a temporary file of its own
beside the target, renamed into place when complete, removed if writing fails or is
interrupted. Used for every file the package saves (fits, forecasts, a run's JSON files and
its report). Reading one back (:func:`read_saved`) turns every way it can fail into an
:class:`~forecast.errors.InputError` naming the file.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import Callable, TypeVar

from forecast.errors import InputError, as_path

__all__ = ["read_saved", "write_atomically", "write_text_atomically", "netcdf_path",
           "NETCDF_SUFFIXES"]

T = TypeVar("T")


#: the suffixes a netCDF file may have ("": a name without one)
NETCDF_SUFFIXES = ("", ".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5")


def netcdf_path(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` for a ``what`` saved as netCDF, refused where its
    suffix names another format (``fit.pkl`` would hold netCDF under a pickle's name, which
    a reader would open as one).

    Examples
    --------
    >>> netcdf_path("runs/fit.nc", "fit").name
    'fit.nc'
    >>> netcdf_path("fit.pkl", "fit")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: fit.pkl: a fit is saved as netCDF: expected a name ending .nc (or no suffix), not .pkl
    """
    path = as_path(path, f"the file to save the {what} to")
    if path.suffix.lower() not in NETCDF_SUFFIXES:
        raise InputError(f"a {what} is saved as netCDF: expected a name ending .nc (or no "
                         f"suffix), not {path.suffix}", file=str(path))
    return path


def write_atomically(path: str | Path, write: Callable[[Path], object], what: str) -> Path:
    """Write one file through ``write(tmp)`` under a name of its own next to ``path``, renamed
    into place when complete and removed if writing fails: no half-written file under either
    name, none shared by two saves.

    Raises
    ------
    forecast.InputError
        Naming ``path``, when it is a directory or its folder cannot be made because a file
        is in the way; naming the parameter when ``path`` is not a path.
    OSError
        When the file system refuses the folder or the file (permissions, a full disk).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "new" / "a.txt"
    >>> write_atomically(out, lambda tmp: tmp.write_text("done"), "note").read_text()
    'done'
    >>> write_atomically(out.parent, lambda tmp: None, "note")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: ...: a note is saved to a file, not a directory
    """
    path = as_path(path, f"the file to save the {what} to")
    if path.is_dir():
        raise InputError(f"a {what} is saved to a file, not a directory", file=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InputError(f"cannot make the folder to save the {what} in ({exc.strerror}: a "
                         "file in the way?)", file=str(path)) from None
    # any other refusal (permissions, a read-only or full disk) stays an OSError, which the
    # command line reports as the file system's refusal
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.partial"
    try:
        # created as a plain write creates (the umask's permissions, so a shared registry's
        # posterior.nc is as readable as its CSVs; mkstemp's were the owner's alone), and
        # only if no other save holds the name
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        write(tmp)
        tmp.replace(path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        # a refusal is said of the file asked for, not of the hidden name (whose own length
        # is no fault of the name asked for)
        if (isinstance(exc, OSError) and exc.filename in (tmp, str(tmp))
                and exc.errno != errno.ENAMETOOLONG):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


def write_text_atomically(path: str | Path, text: str, what: str) -> Path:
    """:func:`write_atomically` of UTF-8 text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_text_atomically(folder / "a.txt", "done", "note")
    >>> sorted(p.name for p in folder.iterdir()), (folder / "a.txt").read_text()
    (['a.txt'], 'done')
    """
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), what)


def read_saved(path: str | Path, read: Callable[[Path], T], what: str) -> T:
    """Read a file the package saved, through ``read(path)``.

    A missing file, a folder that cannot be searched, a file that cannot be opened and one
    that ``read`` fails on are each an :class:`~forecast.errors.InputError` naming the file,
    never the reader's own exception (HDF5's text for a permission is a paragraph of flags).

    Examples
    --------
    >>> read_saved("missing.nc", print, "fit")
    Traceback (most recent call last):
    ...
    forecast.errors.InputError: missing.nc: saved fit not found
    """
    path = as_path(path, f"a saved {what}")
    try:
        found = path.exists()  # raises, not False, where a folder on the way refuses a search
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", file=str(path)) from None
    if not found:
        raise InputError(f"saved {what} not found", file=str(path))
    try:
        return read(path)
    except PermissionError:
        raise InputError("cannot be read (Permission denied)", file=str(path)) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input here
        raise InputError(f"not a readable netCDF {what} ({type(exc).__name__}: {exc})",
                         file=str(path)) from None
