"""A second process that fills PyTensor's numba cache while the first compiles.

A machine's first compile of a model types and compiles each of PyTensor's operations in
turn: about 800 numba compiles for the default model, most of a cold compile's two minutes
(docs/decisions/0016-background-precompile.md). PyTensor caches each operation on disk under
its own key, and numba looks in that cache each time it meets an operation it has not
compiled in this process. So a second process that compiles the same operations, starting
from the other end of the graph, leaves the first only to load from disk what the second has
already done. The machines this package runs on have two cores or more; the first compile
uses one.

:func:`warm_operations` does the second process's work; :func:`in_background` runs such
tasks in a process of its own (``python -m forecast.precompile``, the tasks sent through a
pipe) for as long as the ``with`` block lasts. They only write to the cache: whatever they
have not finished when the block ends, the first process compiles itself, so stopping them
early costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import pickle  # the tasks go to the second process through a pipe, never to disk
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["helper_order", "in_background", "warm_operations"]


def helper_order(fgraph: Any, *, reverse: bool) -> list[Any]:
    """A topological order of ``fgraph``'s nodes for the second process.

    PyTensor's own order (``fgraph.toposort()``) is the one the first process compiles in.
    With ``reverse``, each step takes, of the nodes whose inputs are ready, the one that
    comes latest in PyTensor's order, so the two processes start at opposite ends and meet
    late; without it, PyTensor's order.

    Parameters
    ----------
    fgraph
        A PyTensor ``FunctionGraph``.
    reverse
        Start from the end of PyTensor's order.

    Returns
    -------
    list
        Every node of ``fgraph`` once, each after the nodes it reads.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from pytensor.graph.fg import FunctionGraph
    >>> x = pt.vector("x")
    >>> fgraph = FunctionGraph([x], [pt.exp(x) + pt.log(x), pt.sin(x)])
    >>> [str(n.op.scalar_op) for n in fgraph.toposort()]
    ['sin', 'log', 'exp', 'add']
    >>> [str(n.op.scalar_op) for n in helper_order(fgraph, reverse=True)]
    ['exp', 'log', 'add', 'sin']
    """
    order = fgraph.toposort()
    if not reverse:
        return order
    rank = {node: i for i, node in enumerate(order)}
    parents = {node: {i.owner for i in node.inputs if i.owner is not None} for node in order}
    waiting = {node: len(parents[node]) for node in order}
    readers: dict[Any, list[Any]] = {node: [] for node in order}
    for node in order:
        for parent in parents[node]:
            readers[parent].append(node)
    ready = [-rank[node] for node in order if waiting[node] == 0]
    heapq.heapify(ready)
    result = []
    while ready:
        node = order[-heapq.heappop(ready)]
        result.append(node)
        for reader in readers[node]:
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, -rank[reader])
    return result


def _argument_types(fgraph: Any) -> tuple[Any, ...]:
    """The numba types the callbacks of :mod:`forecast.cfuncs` call a graph with: each input
    a C-contiguous, writable array (the draw, and each shared array from nutpie's table)."""
    from numba.core import types
    from numba.np.numpy_support import from_dtype

    return tuple(types.Array(from_dtype(np.dtype(v.type.dtype)), v.type.ndim, "C")
                 for v in fgraph.inputs)


def warm_operations(fgraph: Any, *, reverse: bool, fastmath: bool) -> None:
    """Compile every operation of ``fgraph`` into PyTensor's numba cache, in this process.

    The graph is converted as PyTensor converts it, but in :func:`helper_order`, and typed
    for the argument types the callbacks of :mod:`forecast.cfuncs` call it with: numba
    compiles (and PyTensor caches) each operation it calls for the signature the first
    process asks for. The graph function itself is only typed, not compiled: the callbacks
    compile their own, and optimising it here would take the second process's time from
    other tasks. (Should typing alone fail, the function is compiled.)

    Parameters
    ----------
    fgraph
        A rewritten PyTensor ``FunctionGraph`` (``function.maker.fgraph``).
    reverse
        As for :func:`helper_order`.
    fastmath
        PyTensor's ``numba__fastmath`` flag, which is part of every operation's key: the
        first process's.
    """
    import pytensor
    from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key

    with pytensor.config.change_flags(numba__fastmath=fastmath):
        function, _ = numba_funcify_and_cache_key(
            fgraph, order=helper_order(fgraph, reverse=reverse), fgraph_name="precompiled")
        argument_types = _argument_types(fgraph)
        try:
            _type(function, argument_types)
        except Exception:  # noqa: BLE001 - numba's internals moved: do what it would do
            function.compile(argument_types)


def _type(function: Any, argument_types: tuple[Any, ...]) -> None:
    """Run numba's type inference on ``function``, which compiles every function it calls."""
    from numba.core import compiler, typed_passes
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
    typed_passes.type_inference_stage(cpu_target.typing_context, cpu_target.target_context,
                                      compiler.run_frontend(function.py_func),
                                      argument_types, None)


def _cache_path() -> str:
    from pytensor.link.numba.cache import NUMBA_CACHE_PATH

    return str(NUMBA_CACHE_PATH)


@contextlib.contextmanager
def in_background(tasks: Sequence[Callable[[], object]], *,
                  wait: bool = False) -> Iterator[None]:
    """Run ``tasks`` one after the other in a second process while the block runs.

    The tasks fill numba's cache (:func:`warm_operations`,
    :func:`forecast.cfuncs.compile_callback`); they are pickled to the process through a
    pipe, so each is a module-level function or a ``functools.partial`` of one. The process
    is stopped when the block ends, done or not. It runs only if its cache directory is the
    block's process's, its output is discarded, and it exits on its own if this process dies.
    If the tasks cannot be pickled or the process cannot be started, the block runs without
    it.

    Parameters
    ----------
    tasks
        Functions of no arguments.
    wait
        Start the block only when the tasks are done (the process has exited).
    """
    try:
        payload = pickle.dumps({"tasks": list(tasks), "cache_path": _cache_path(),
                                "parent": os.getpid()})
        process = subprocess.Popen([sys.executable, "-m", "forecast.precompile"],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, OSError):
        process = None  # a task that cannot be sent, or no interpreter to start
    if process is None:  # the block runs alone, which costs time only
        yield
        return

    def send() -> None:  # the child reads its input after its imports: don't wait for them
        with contextlib.suppress(OSError):
            process.stdin.write(payload)
            process.stdin.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        if wait:
            process.wait()
        yield
    finally:
        process.kill()
        process.wait()
        sender.join()


def _exit_with(parent: int) -> None:
    """End this process when ``parent`` is no longer its parent."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def main() -> None:
    """The second process: read the tasks from standard input and run them."""
    job = pickle.loads(sys.stdin.buffer.read())
    threading.Thread(target=_exit_with, args=(job["parent"],), daemon=True).start()
    if _cache_path() != job["cache_path"]:
        return  # another cache than the first process's: nothing here would help it
    for task in job["tasks"]:
        task()


if __name__ == "__main__":
    main()
