"""The AR(1) recursion ``x[t] = φ·x[t-1] + u[t]`` as one PyTensor operation.

Both state equations of the model (each ally's own state and the common factor) are this
recursion. Written with ordinary tensor operations it cost one slice, product and increment per
doubling step (a log-depth prefix sum, ⌈log2 T⌉ steps) and as many again in the gradient: about
a third of the compiled log-density's nodes, and compile time and evaluation time both grow with
the node count (docs/decisions/0005-recursion-operation.md). :class:`AR1Filter` is one node
forward and one node (the same recursion run backwards) in the gradient, with a loop compiled by
numba, a ``jax.lax.associative_scan`` for the JAX backend and a numpy loop elsewhere.
"""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.scalar import upcast

__all__ = ["AR1Filter", "ar1_filter"]


def _filter_numpy(u: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """The recursion on numpy arrays; ``u`` is ``(series, time)``, ``phi`` is ``(series,)``."""
    x = np.array(u, dtype=np.result_type(u, phi), copy=True)
    for t in range(1, x.shape[-1]):
        x[..., t] += phi * x[..., t - 1]
    return x


class AR1Filter(Op):
    """``x[i, 0] = u[i, 0]``, ``x[i, t] = phi[i]·x[i, t-1] + u[i, t]``.

    Inputs are ``u`` with dims ``(series, time)`` and ``phi`` with dims ``(series,)``: one
    coefficient per series, no broadcasting. The gradient is the same recursion run backwards
    in time, so it is one node as well.
    """

    __props__ = ()

    def make_node(self, u, phi):
        u = pt.as_tensor_variable(u)
        phi = pt.as_tensor_variable(phi)
        if u.ndim != 2 or phi.ndim != 1:
            raise TypeError(f"AR1Filter needs u (series, time) and phi (series,); got ndim "
                            f"{u.ndim} and {phi.ndim}")
        dtype = upcast(u.dtype, phi.dtype, "float64" if "int" in u.dtype else u.dtype)
        out = pt.tensor(dtype=dtype, shape=u.type.shape)
        return Apply(self, [u, phi], [out])

    def perform(self, node, inputs, output_storage):
        u, phi = inputs
        if phi.shape != u.shape[:1]:
            raise ValueError(f"AR1Filter: phi has shape {phi.shape}, expected {u.shape[:1]}")
        output_storage[0][0] = _filter_numpy(u, phi).astype(node.outputs[0].dtype, copy=False)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def pullback(self, inputs, outputs, cotangents):
        # adjoint: r[t] = g[t] + phi·r[t+1] (the recursion backwards in time) is dL/du;
        # x[t] depends on phi through phi·x[t-1], so dL/dphi = Σ_t r[t]·x[t-1]
        _, phi = inputs
        (x,) = outputs
        (g,) = cotangents
        r = self(g[:, ::-1], phi)[:, ::-1]
        dphi = (r[:, 1:] * x[:, :-1]).sum(axis=1)
        return [r, dphi]


@numba_basic.register_funcify_default_op_cache_key(AR1Filter)
def _numba_ar1_filter(op, node, **kwargs):
    @numba_basic.numba_njit
    def ar1_filter_numba(u, phi):
        n, T = u.shape
        x = np.empty((n, T), dtype=u.dtype)
        if T == 0:
            return x
        for i in range(n):
            prev = u[i, 0]
            x[i, 0] = prev
            c = phi[i]
            for t in range(1, T):
                prev = c * prev + u[i, t]
                x[i, t] = prev
        return x

    return ar1_filter_numba


if find_spec("jax") is not None:  # the JAX backend is an optional extra
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(AR1Filter)
    def _jax_ar1_filter(op, **kwargs):
        import jax

        def combine(left, right):
            # composing x -> a1·x + b1 then x -> a2·x + b2
            a1, b1 = left
            a2, b2 = right
            return a1 * a2, a2 * b1 + b2

        def ar1_filter_jax(u, phi):
            a = jax.numpy.broadcast_to(phi[:, None], u.shape).astype(u.dtype)
            return jax.lax.associative_scan(combine, (a, u), axis=1)[1]

        return ar1_filter_jax


_ar1 = AR1Filter()


def ar1_filter(u, phi):
    """``x[..., t] = phi·x[..., t-1] + u[..., t]`` along the last axis, ``x[..., 0] = u[..., 0]``.

    ``u`` is one series ``(time,)`` with a scalar ``phi``, or several ``(series, time)`` with one
    coefficient per series ``(series,)``. Works on numpy arrays (a loop over time) and on
    PyTensor tensors (one :class:`AR1Filter` node).

    Examples
    --------
    >>> import numpy as np
    >>> ar1_filter(np.ones((1, 4)), np.array([0.5]))
    array([[1.   , 1.5  , 1.75 , 1.875]])
    """
    if isinstance(u, np.ndarray) and not isinstance(phi, pt.Variable):
        phi = np.asarray(phi, dtype=float)
        if u.ndim == 1:
            return _filter_numpy(u[None, :], phi.reshape(1))[0]
        return _filter_numpy(u, phi)
    u = pt.as_tensor_variable(u)
    phi = pt.as_tensor_variable(phi)
    if u.ndim == 1:
        return _ar1(u[None, :], phi.reshape((1,)))[0]
    return _ar1(u, phi)
