"""The vectorised convergence statistics equal ArviZ's on the same draws.

ArviZ is the reference implementation of Vehtari et al. (2021); ``forecast.convergence``
computes the same numbers for thousands of quantities at once. Equality is checked to 1e-9
relative, far below any difference the gate could see, and above the last-bit differences
of summing the same terms in another order.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from arviz_stats.base import array_stats
from hypothesis import example, given, settings
from hypothesis import strategies as st

from forecast.convergence import convergence_statistics
from forecast.diagnostics import ConvergenceWarning, compute_diagnostics

TAIL = (0.05, 0.95)


def _arviz(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the reference divides by a zero variance for a constant quantity (R-hat nan, as ours
    # says) and numpy warns of it
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.asarray(array_stats.rhat(x, method="rank")),
                np.asarray(array_stats.ess(x, method="bulk")),
                np.asarray(array_stats.ess(x, method="tail", prob=TAIL)))


def _chains(rng, n_q: int, chains: int, draws: int, phi: np.ndarray) -> np.ndarray:
    """AR(1) chains, one persistence per quantity, with chain offsets for poor mixing."""
    x = np.zeros((n_q, chains, draws))
    e = rng.normal(size=(n_q, chains, draws))
    x[..., 0] = e[..., 0]
    for t in range(1, draws):
        x[..., t] = phi[:, None] * x[..., t - 1] + e[..., t]
    return x + rng.normal(scale=0.3, size=(n_q, chains, 1))


def _assert_same(ours, ref) -> None:
    for name, a, b in zip(("rhat", "ess_bulk", "ess_tail"), ours, ref):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        np.testing.assert_allclose(a, b, rtol=1e-9, equal_nan=True, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(chains=st.sampled_from([1, 2, 4]), draws=st.integers(4, 240),
       discrete=st.booleans(), seed=st.integers(0, 2**32 - 1))
# found by hypothesis: a quantity whose folded draws are all equal (0 and -1 around a median
# of -0.5) has an undefined folded R-hat; ArviZ then reports the bulk R-hat
@example(chains=2, draws=4, discrete=True, seed=8522375)
def test_matches_arviz(chains, draws, discrete, seed):
    rng = np.random.default_rng(seed)
    # from anti-correlated (an early negative pair) to nearly a random walk (long sequences)
    phi = np.array([-0.9, -0.3, 0.0, 0.5, 0.9, 0.99])
    x = _chains(rng, len(phi), chains, draws, phi)
    if discrete:  # ties: ranks are averaged
        x = np.round(x)
    _assert_same(convergence_statistics(x), _arviz(x))


def test_constant_and_missing_quantities():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 100))
    x[1] = 2.5  # a constant (a fixed coordinate): R-hat undefined, ESS = all draws
    x[2, 0, 7] = np.nan
    ours = convergence_statistics(x)
    _assert_same(ours, _arviz(x))
    assert np.isnan(ours[0][1]) and ours[1][1] == 400
    assert all(np.isnan(a[2]) for a in ours)


@pytest.mark.parametrize("block", [400, 1000, 2400])
def test_blocks_of_quantities_change_nothing(block):
    """Taken in blocks (whole, uneven or single quantities), every statistic is bit-identical
    to the one-block result, and each quantity keeps its own place."""
    rng = np.random.default_rng(4)
    x = _chains(rng, 7, 4, 100, np.linspace(0.0, 0.9, 7))
    x[2] = 1.5
    x[5, 1, 3] = np.nan
    x[6, 2] += 2.0  # the one poorly mixed quantity must stay last
    whole = convergence_statistics(x, block=x.size)
    parts = convergence_statistics(x, block=block)
    for a, b in zip(parts, whole):
        assert a.shape == (7,)
        np.testing.assert_array_equal(a, b)
    assert int(np.nanargmax(parts[0])) == 6


def test_poor_mixing_is_seen():
    """A chain stuck elsewhere gives a large R-hat and a small ESS: the statistic can fail."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 4, 500))
    x[0, 3] += 3.0
    rhat, bulk, _ = convergence_statistics(x)
    assert rhat[0] > 1.1 and bulk[0] < 100


def test_diagnostics_use_every_quantity_with_its_label():
    rng = np.random.default_rng(3)
    post = {"a": rng.normal(size=(4, 200)), "b": _chains(rng, 3, 4, 200, np.full(3, 0.95))
            .transpose(1, 2, 0)}
    dt = az.from_dict({"posterior": post}, dims={"b": ["k"]}, coords={"k": ["x", "y", "z"]})
    diag = compute_diagnostics(dt, warn=False)
    x = np.concatenate([post["a"][None], post["b"].transpose(2, 0, 1)])
    rhat, bulk, tail = _arviz(x)
    assert diag.max_rhat == pytest.approx(rhat.max(), rel=1e-9)
    assert diag.min_ess_bulk == pytest.approx(bulk.min(), rel=1e-9)
    assert diag.min_ess_tail == pytest.approx(tail.min(), rel=1e-9)
    worst = min(diag.worst, key=lambda w: w["ess_bulk"])
    assert worst["quantity"] == ["a", "b[x]", "b[y]", "b[z]"][int(np.argmin(bulk))]


def test_statistics_variable_by_variable_equal_one_stacked_array():
    """quantity_statistics takes a posterior one variable at a time (no copy of the whole);
    each quantity's statistics and label must be those of one stacked array, whatever the
    order of a variable's dimensions."""
    import xarray as xr

    from forecast.convergence import quantity_statistics

    rng = np.random.default_rng(6)
    x = _chains(rng, 7, 4, 100, np.linspace(0.0, 0.9, 7))
    post = xr.Dataset(
        {"mu": (("chain", "draw"), x[0]),
         # stored (ally, chain, draw): must be read as (chain, draw, ally)
         "theta": (("ally", "chain", "draw"), x[1:4]),
         "lam": (("chain", "draw", "ally", "signal"),
                 x[4:7].transpose(1, 2, 0).reshape(4, 100, 3, 1))},
        coords={"ally": ["JPN", "KOR", "AUS"], "signal": ["s"]})
    table = quantity_statistics(post, block=400)
    assert list(table.index) == ["mu", "theta[JPN]", "theta[KOR]", "theta[AUS]",
                                 "lam[JPN,s]", "lam[KOR,s]", "lam[AUS,s]"]
    for column, stat in zip(("r_hat", "ess_bulk", "ess_tail"), convergence_statistics(x)):
        np.testing.assert_array_equal(table[column].to_numpy(), stat)


@pytest.mark.parametrize("values, failed", [
    ((1.0099, 400.0, 400.0, 0, 0.3), []),
    ((1.0101, 400.0, 400.0, 0, 0.3), ["rhat"]),
    ((np.nan, 900.0, 900.0, 0, 0.9), ["rhat"]),
    ((1.0, 399.0, 900.0, 0, 0.9), ["ess_bulk"]),
    ((1.0, 900.0, 399.0, 1, 0.9), ["ess_tail", "divergences"]),
    ((1.02, 900.0, 900.0, 0, 0.29), ["rhat", "bfmi"]),
])
def test_failed_checks_name_what_failures_describe(values, failed):
    from forecast.diagnostics import Diagnostics

    diag = Diagnostics(*values, n_draws=4000)
    assert diag.failed_checks == failed
    assert len(diag.failures) == len(failed) and diag.converged is (not failed)
    assert [bool(ok) for ok in diag.table()["ok"]] == [
        key not in failed for key in ("rhat", "ess_bulk", "ess_tail", "divergences", "bfmi")]


def test_the_table_says_what_each_check_requires():
    """The report prints the required column as it stands: "divergences ≤ 0" read as if a
    negative count were allowed; no divergence allowed reads "none"."""
    import dataclasses

    from forecast.diagnostics import Diagnostics

    diag = Diagnostics(1.0, 900.0, 900.0, 0, 0.9, n_draws=4000)
    required = dict(zip(diag.table()["check"], diag.table()["required"]))
    t = diag.thresholds
    assert required == {"max R-hat": f"≤ {t.max_rhat}", "min bulk ESS": f"≥ {t.min_ess_bulk:.0f}",
                        "min tail ESS": f"≥ {t.min_ess_tail:.0f}", "divergences": "none",
                        "min E-BFMI": f"≥ {t.min_bfmi}"}
    lenient = Diagnostics(1.0, 900.0, 900.0, 2, 0.9, n_draws=4000,
                          thresholds=dataclasses.replace(t, max_divergences=2))
    assert lenient.table().set_index("check").loc["divergences", "required"] == "≤ 2"
    assert lenient.converged


def test_one_chain_is_refused_with_a_reason_not_a_nan():
    """R-hat compares chains: with one chain it is undefined and the gate fails on it, saying
    why ("R-hat nan > 1.01" before)."""
    import arviz as az

    from forecast.diagnostics import compute_diagnostics

    one = az.from_dict({"posterior": {"x": np.random.default_rng(0).normal(size=(1, 800))}})
    diag = compute_diagnostics(one, warn=False)
    assert diag.failed_checks == ["rhat"]
    assert diag.failures == ["R-hat undefined: it compares chains, and the fit has one "
                             "(run 2 or more)"]


def test_the_warning_suggests_running_on_only_when_rhat_alone_fails():
    """Two chains far apart fail on R-hat and ESS: no hint. Four chains whose last one sits a
    little off fail on R-hat alone: the warning says how to run the same chains on."""
    rng = np.random.default_rng(11)
    apart = rng.normal(size=(4, 1000))
    apart[3] += 3.0
    near = rng.normal(size=(4, 1000))
    near[3] += 0.4
    messages = {}
    for name, x in (("apart", apart), ("near", near)):
        with pytest.warns(UserWarning) as caught:
            diag = compute_diagnostics(az.from_dict({"posterior": {"x": x}}))
        messages[name] = (diag.failed_checks, str(caught[0].message))
    assert messages["near"][0] == ["rhat"] and "twice the draws" in messages["near"][1]
    assert "ess_bulk" in messages["apart"][0] and "twice the draws" not in messages["apart"][1]


def test_the_worst_quantities_include_each_failed_checks_culprit():
    """Thirty quantities fail on bulk ESS (AR(1) draws, persistence 0.8); one more mixes well
    but its last chain is 1.8 times as wide, which the folded R-hat sees (about 1.06) while its
    bulk ESS stays near 2 000. It must be listed though its bulk ESS is not among the lowest."""
    rng = np.random.default_rng(5)
    e = rng.normal(size=(30, 4, 500))
    slow = np.zeros_like(e)
    slow[..., 0] = e[..., 0]
    for t in range(1, 500):
        slow[..., t] = 0.8 * slow[..., t - 1] + e[..., t]
    wide = rng.normal(size=(4, 500))
    wide[3] *= 1.8
    post = {"slow": slow.transpose(1, 2, 0), "wide": wide}
    diag = compute_diagnostics(az.from_dict({"posterior": post}, dims={"slow": ["k"]}),
                               warn=False)
    names = [w["quantity"] for w in diag.worst]
    top = max(diag.worst, key=lambda w: w["r_hat"])
    assert {"rhat", "ess_bulk"} <= set(diag.failed_checks)
    assert top["quantity"] == "wide" and top["r_hat"] == pytest.approx(diag.max_rhat)
    assert top["ess_bulk"] > max(w["ess_bulk"] for w in diag.worst if w["quantity"] != "wide")
    assert min(w["ess_bulk"] for w in diag.worst) == pytest.approx(diag.min_ess_bulk)
    assert min(w["ess_tail"] for w in diag.worst) == pytest.approx(diag.min_ess_tail)
    assert len(names) == len(set(names)) <= 21


def test_a_passing_fit_names_the_quantity_with_the_highest_rhat():
    """With every check passed only the five lowest bulk ESS were listed: a report said max
    R-hat 1.0097, just under the gate, and named no quantity near it."""
    rng = np.random.default_rng(8)
    shocks = rng.normal(size=(4, 1000, 12))
    many = shocks.copy()
    for t in range(1, 1000):  # five AR(1) quantities: the lowest bulk ESS (about 1 200)
        many[:, t, :5] = 0.5 * many[:, t - 1, :5] + shocks[:, t, :5]
    # chains a little apart: R-hat 1.009 with a bulk ESS of about 2 500
    drifting = rng.normal(size=(4, 1000)) + 0.12 * np.arange(4)[:, None]
    diag = compute_diagnostics(az.from_dict({"posterior": {"many": many, "drifting": drifting}},
                                            dims={"many": ["k"]}), warn=False)
    assert diag.converged, diag.failures
    top = max(diag.worst, key=lambda w: w["r_hat"])
    assert top["quantity"] == "drifting" and top["r_hat"] == pytest.approx(diag.max_rhat)
    assert top["ess_bulk"] > sorted(w["ess_bulk"] for w in diag.worst)[4]  # not for its ESS
    assert min(w["ess_bulk"] for w in diag.worst) == pytest.approx(diag.min_ess_bulk)
    assert min(w["ess_tail"] for w in diag.worst) == pytest.approx(diag.min_ess_tail)


def test_a_quantity_with_a_nan_draw_fails_the_gate():
    """Its statistics are NaN; it used to be dropped with the constant quantities, so chains
    10 sd apart passed once one draw was NaN."""
    rng = np.random.default_rng(3)
    apart = rng.normal(size=(4, 500)) + 10 * np.arange(4)[:, None]
    good = az.from_dict({"posterior": {"x": rng.normal(size=(4, 500))}})
    assert compute_diagnostics(good, warn=False).converged
    apart[1, 7] = np.nan
    bad = az.from_dict({"posterior": {"x": rng.normal(size=(4, 500)), "y": apart}})
    d = compute_diagnostics(bad, warn=False)
    assert not d.converged and d.max_rhat == np.inf
    assert "y" in [w["quantity"] for w in d.worst]


def test_one_chain_gives_a_verdict_not_a_crash():
    one = az.from_dict({"posterior": {"x": np.random.default_rng(4).normal(size=(1, 400))}})
    with pytest.warns(ConvergenceWarning):
        d = compute_diagnostics(one)
    assert np.isfinite(d.min_ess_bulk) and d.n_draws == 400
