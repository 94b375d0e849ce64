"""Rank-normalised split R-hat and bulk/tail ESS, for every posterior quantity at once.

These are the statistics of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
"Rank-normalization, folding, and localization: an improved R-hat for assessing convergence
of MCMC", *Bayesian Analysis* 16(2), computed as ArviZ computes them, but vectorised across
quantities. ArviZ ranks, transforms and autocorrelates each quantity in its own Python call;
a fit of the default model stores about 4 600 quantities, and that loop took 18–26 s of the
monthly run. Here every step is one numpy operation over a ``(quantity, chain, draw)`` array
(docs/decisions/0007-vectorised-diagnostics.md). ``tests/test_convergence.py`` checks the
results against ArviZ on the same draws.

Examples
--------
>>> import numpy as np
>>> from forecast.convergence import convergence_statistics
>>> draws = np.random.default_rng(0).normal(size=(3, 4, 500))   # 3 quantities, 4 chains
>>> rhat, ess_bulk, ess_tail = convergence_statistics(draws)
>>> bool((rhat < 1.02).all()), bool((ess_bulk > 1000).all())
(True, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import fft, special

__all__ = ["convergence_statistics", "fold", "quantity_draws", "quantity_statistics"]

TAIL_PROBS = (0.05, 0.95)  # the tail-ESS quantiles of Vehtari et al. (2021)
# draws per block of quantities: 2**21 float64 values are 16 MiB, and the working arrays of a
# block about twenty times that (docs/decisions/0007-vectorised-diagnostics.md)
BLOCK_VALUES = 2**21


def _split(x: np.ndarray) -> np.ndarray:
    """``(Q, C, D)`` → ``(Q, 2C, D // 2)``: each chain's first and last halves as chains."""
    half = x.shape[-1] // 2
    return np.concatenate([x[..., :half], x[..., -half:]], axis=1)


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties averaged) along the last axis of a 2-D array.

    ``scipy.stats.rankdata(..., axis=1)`` gives the same numbers, at several times the cost
    on a ``(4 600, 4 000)`` array (about 3 s against under 1 s).
    """
    order = np.argsort(a, axis=1)
    ordered = np.take_along_axis(a, order, axis=1)
    n = a.shape[1]
    pos = np.broadcast_to(np.arange(n), a.shape)
    starts = np.ones(a.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty(a.shape)
    if starts.all():  # no ties, the usual case for continuous draws
        np.put_along_axis(ranks, order, pos + 1.0, axis=1)
        return ranks
    ends = np.ones(a.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks of each quantity (Blom's offset, c = 3/8)."""
    q, c, d = x.shape
    n = c * d
    ranks = _average_ranks(x.reshape(q, n))
    return special.ndtri((ranks - 3 / 8) / (n - 2 * 3 / 8 + 1)).reshape(q, c, d)


def _rhat(x: np.ndarray) -> np.ndarray:
    """Classic R-hat of each quantity of a ``(Q, C, D)`` array."""
    d = x.shape[-1]
    between = d * x.mean(axis=-1).var(axis=-1, ddof=1)
    within = x.var(axis=-1, ddof=1).mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + d - 1) / d)


def fold(x: np.ndarray) -> np.ndarray:
    """Each quantity's distance from its median over all chains and draws, of
    ``(quantity, chain, draw)`` draws: what the folded half of R-hat judges (the spread).

    Examples
    --------
    >>> import numpy as np
    >>> fold(np.array([[[1.0, 2.0], [3.0, 6.0]]])).tolist()
    [[[1.5, 0.5], [0.5, 3.5]]]
    """
    return np.abs(x - np.median(x, axis=(1, 2), keepdims=True))


def _rhat_from(split: np.ndarray, z_bulk: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) R-hat.

    As in ArviZ (Python's ``max(bulk, folded)``), an undefined folded R-hat (every folded
    draw equal, e.g. discrete draws around a half-integer median) leaves the bulk one.
    """
    bulk, folded = _rhat(z_bulk), _rhat(_z_scale(fold(split)))
    return np.where(np.isnan(folded), bulk, np.maximum(bulk, folded))


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain at every lag (biased, divided by the chain length)."""
    d = x.shape[-1]
    m = fft.next_fast_len(2 * d)
    centred = x - x.mean(axis=-1, keepdims=True)
    spec = fft.rfft(centred, n=m, axis=-1)
    return fft.irfft(spec * np.conjugate(spec), n=m, axis=-1)[..., :d] / d


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each quantity of ``(Q, C, D)`` by Geyer's initial monotone sequence."""
    q, c, d = x.shape
    total = c * d
    acov = _autocov(x)
    mean_var = acov[..., 0].mean(axis=-1) * d / (d - 1.0)
    var_plus = mean_var * (d - 1.0) / d
    if c > 1:
        var_plus = var_plus + x.mean(axis=-1).var(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
    rho[:, 0] = 1.0
    # pairs (rho[2k], rho[2k+1]) for every k the sequence may reach: 2k - 1 < d - 3
    k_max = max((d - 1) // 2 - 1, 0)
    even, odd = rho[:, 0:2 * k_max + 1:2], rho[:, 1:2 * k_max + 2:2]
    pair = even + odd
    # the initial positive sequence stops at the first pair whose sum is not positive
    stop = ~(pair > 0)
    k_last = np.where(stop.any(axis=1), stop.argmax(axis=1), k_max)
    # the initial monotone sequence: no pair sum exceeds the one before
    kept = np.arange(k_max + 1)[None, :] < k_last[:, None]
    monotone = np.where(kept, np.minimum.accumulate(np.where(kept, pair, np.inf), axis=1), 0.0)
    rows = np.arange(q)
    last_even, last_pair = even[rows, k_last], pair[rows, k_last]
    tail_term = np.where((last_even > 0) | (last_pair >= 0), last_even, 0.0)
    tau = -1.0 + 2.0 * monotone.sum(axis=1) + tail_term
    tau = np.maximum(tau, 1.0 / np.log10(total))
    ess = total / tau
    ess[np.isnan(odd[:, 0])] = np.nan
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    ess[constant] = total
    return ess


def _ess_tail(x: np.ndarray, probs: tuple[float, float] = TAIL_PROBS) -> np.ndarray:
    """Tail ESS: the smaller split-chain ESS of the indicators of falling below two quantiles."""
    q = x.shape[0]
    quantiles = np.quantile(x.reshape(q, -1), probs, axis=1)  # (2, Q)
    return np.minimum(*(_ess(_split((x <= qq[:, None, None]).astype(float)))
                        for qq in quantiles))


def convergence_statistics(x: np.ndarray, block: int = BLOCK_VALUES
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R-hat, bulk ESS and tail ESS of each quantity of ``(quantity, chain, draw)`` draws.

    Quantities are taken in blocks of at most ``block`` draws in all, so that the working
    arrays (ranks, normal scores, the FFT's padded spectra: about twenty times the block's
    size) stay bounded whatever the posterior's size. The statistics of one quantity do not
    depend on the others, so the blocks change nothing but memory.

    Parameters
    ----------
    x
        Draws shaped ``(quantity, chain, draw)``.
    block
        Most draws (quantities × chains × draws) handled at once.

    Returns
    -------
    rhat, ess_bulk, ess_tail : numpy.ndarray
        One value each per quantity. As in ArviZ, all three are NaN for a quantity holding a
        NaN or with fewer than 4 draws, R-hat is NaN with fewer than 2 chains or for a
        constant quantity, and a constant quantity's ESS is the number of draws.
    """
    x = np.asarray(x, dtype=float)
    q, chains, draws = x.shape
    if q == 0 or draws < 4:
        full = np.full(q, np.nan)
        return full, full.copy(), full.copy()
    step = max(1, block // (chains * draws))
    if q > step:
        parts = [_statistics(x[i:i + step]) for i in range(0, q, step)]
        return tuple(np.concatenate(p) for p in zip(*parts))
    return _statistics(x)


def _statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`convergence_statistics` of one block of quantities (at least 4 draws)."""
    chains = x.shape[1]
    q = x.shape[0]
    bad = np.isnan(x).any(axis=(1, 2))
    clean = np.where(bad[:, None, None], 0.0, x) if bad.any() else x
    split = _split(clean)
    z_bulk = _z_scale(split)  # shared by R-hat and bulk ESS
    rhat = _rhat_from(split, z_bulk) if chains >= 2 else np.full(q, np.nan)
    out = rhat, _ess(z_bulk), _ess_tail(clean)
    for a in out:
        a[bad] = np.nan
    return out


def quantity_draws(da: xr.DataArray) -> np.ndarray:
    """A posterior variable's draws as ``(quantity, chain, draw)``, one row per entry of its
    dimensions other than ``chain`` and ``draw`` (in C order), as the statistics take them.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((3, 4, 5, 2)), dims=("ally", "chain", "draw", "signal"))
    >>> quantity_draws(da).shape
    (6, 4, 5)
    """
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    values = da.transpose("chain", "draw", *extra).values
    return values.reshape(values.shape[0], values.shape[1], -1).transpose(2, 0, 1)


def quantity_labels(name: str, da: xr.DataArray) -> list[str]:
    """Labels of a variable's quantities in :func:`quantity_draws` order: ``name`` for a
    scalar, ``name[coord,coord]`` for an entry of an array.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((1, 2, 2)), dims=("chain", "draw", "ally"),
    ...                   coords={"ally": ["JPN", "KOR"]})
    >>> quantity_labels("x", da)
    ['x[JPN]', 'x[KOR]']
    """
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if not extra:
        return [name]
    idx = pd.MultiIndex.from_product([da[d].values for d in extra]).to_flat_index()
    return [f"{name}[{','.join(map(str, i))}]" for i in idx]


def quantity_statistics(post: xr.Dataset, block: int = BLOCK_VALUES) -> pd.DataFrame:
    """R-hat, bulk ESS and tail ESS of every quantity of a posterior, one row each.

    Variables are taken one at a time, as views of their draws, so no copy of the whole
    posterior is made: on workload M that copy was 546 MiB, about a quarter of the fit's
    peak memory (docs/decisions/0010-trace-on-disk.md). Labels read ``name`` for a scalar
    and ``name[coord,coord]`` for an entry of an array. A quantity with a NaN or infinite
    draw has R-hat ∞ (its statistics would be NaN, as a constant quantity's are, and a gate
    must fail it, not ignore it).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> post = xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(4, 500))),
    ...                    "x": (("chain", "draw", "ally"), rng.normal(size=(4, 500, 2)))},
    ...                   coords={"ally": ["JPN", "KOR"]})
    >>> list(quantity_statistics(post).index)
    ['mu', 'x[JPN]', 'x[KOR]']
    """
    labels: list[str] = []
    columns: list[list[np.ndarray]] = [[], [], []]
    for name, da in post.data_vars.items():
        if da.size == 0:
            continue
        draws = quantity_draws(da)
        r_hat, ess_bulk, ess_tail = convergence_statistics(draws, block)
        r_hat = np.where(np.isfinite(draws).all(axis=(1, 2)), r_hat, np.inf)
        for column, stat in zip(columns, (r_hat, ess_bulk, ess_tail)):
            column.append(stat)
        labels += quantity_labels(name, da)
    stats = [np.concatenate(c) if c else np.empty(0) for c in columns]
    return pd.DataFrame(dict(zip(("r_hat", "ess_bulk", "ess_tail"), stats)),
                        index=pd.Index(labels, dtype=object))
