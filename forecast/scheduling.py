"""Running independent tasks (a backtest's origins) on a Dask scheduler.

``"local"`` starts a :class:`dask.distributed.LocalCluster` on this machine for the tasks
and closes it after them; an address (``tcp://host:8786``) connects to a scheduler that is
already running, which can spread the tasks over many machines; a
:class:`dask.distributed.Client` the caller made is used as it is and left open. Dask is an
optional dependency (the ``distributed`` extra): without it, asking for a scheduler is a clear
error, and everything else works.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from forecast.cfuncs import available_cores
from forecast.errors import InputError

__all__ = ["LOCAL", "check_workers", "local_workers", "scheduler_client"]

#: the scheduler name that starts a cluster on this machine
LOCAL = "local"

#: seconds to wait for a scheduler at an address before saying it cannot be reached
CONNECT_TIMEOUT_S = 20


def local_workers(chains: int, cores: int | None = None) -> int:
    """Workers of a local cluster: as many fits at once as the cores can sample with a core
    per chain, and at least one.

    Each fit samples its chains on threads of its own (nutpie), so a worker is one fit, not
    one core: two workers on two cores would make four chains share them as two do.

    Examples
    --------
    >>> local_workers(chains=4, cores=16), local_workers(chains=4, cores=2)
    (4, 1)
    """
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, min(chains, cores)))


@contextmanager
def scheduler_client(scheduler: Any, *, chains: int = 4) -> Iterator[Any]:
    """A :class:`dask.distributed.Client` for ``scheduler``, closed afterwards if made here.

    Parameters
    ----------
    scheduler
        ``"local"``, a scheduler's address, or a ``Client``.
    chains
        Chains per fit, which sets a local cluster's number of workers
        (:func:`local_workers`).

    Raises
    ------
    InputError
        Dask's distributed scheduler is not installed, the scheduler is neither of the above,
        no scheduler answered at the address, or its workers cannot run the tasks
        (:func:`check_workers`).

    Examples
    --------
    >>> with scheduler_client("local", chains=4) as client:   # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if hasattr(scheduler, "submit") and hasattr(scheduler, "gather"):
        check_workers(scheduler)
        yield scheduler
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise InputError('expected "local" (a cluster on this machine), a scheduler\'s '
                         "address, e.g. tcp://10.0.0.5:8786, or a dask.distributed.Client",
                         parameter="scheduler", value=repr(scheduler))
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("a scheduler needs Dask's distributed scheduler, which is not "
                         "installed: expected the package's 'distributed' extra (pip install "
                         "'forecast[distributed]'), or no scheduler", parameter="scheduler",
                         value=scheduler) from None
    if scheduler.strip().lower() == LOCAL:
        with LocalCluster(n_workers=local_workers(chains), threads_per_worker=1,
                          processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler.strip(), timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"no scheduler answered there ({exc}); expected the address of a "
                         "running dask scheduler, or \"local\"", parameter="scheduler",
                         value=scheduler) from None
    with client:
        check_workers(client)
        yield client


def check_workers(client: Any) -> None:
    """Refuse a scheduler whose workers cannot run the package's tasks as this process
    would: none at all (the tasks would wait for ever), or a worker without the package or
    with another version of it (a traceback from unpickling, or other draws).

    Raises
    ------
    InputError
        Naming the scheduler and the first worker at fault.
    """
    from importlib.metadata import PackageNotFoundError, version

    # a function of the standard library, so that a worker without the package can run it
    found = client.run(version, "forecast", on_error="return")
    if not found:
        raise InputError("the scheduler has no workers: expected workers started with the "
                         "package installed (dask worker ADDRESS --nthreads 1)",
                         parameter="scheduler", value=_address(client))
    try:
        ours = version("forecast")
    except PackageNotFoundError:  # run from a checkout, not installed: nothing to compare
        return
    for worker, theirs in sorted(found.items()):
        if theirs != ours:
            what = ("does not have the package" if isinstance(theirs, Exception)
                    else f"has forecast {theirs}")
            raise InputError(f"worker {worker} {what}: expected forecast {ours} on every "
                             "worker, as here", parameter="scheduler",
                             value=_address(client))


def _address(client: Any) -> str:
    """The scheduler's address, for a message."""
    return str(getattr(getattr(client, "scheduler", None), "address", None) or client)
