"""Reuse of a compiled model across fits of the same shape (forecast.compiled, issue 7).

A small spec (static states, no common factor, no drivers, no pooling) on a tiny panel keeps
the numba compile short; the reuse machinery is the same for every spec.
"""

from __future__ import annotations

import numpy as np
import pytest

import forecast
from forecast.compiled import CompiledFitter, model_key
from forecast.design import make_design

SPEC = forecast.ModelSpec(name="tiny", dynamics="static", pooling="none", common_factor=False,
                          drivers=False)
SAMPLE = dict(draws=30, tune=30, chains=2, cores=1, warn=False)


def test_the_key_follows_the_data_chosen_intercept_geometry(panels):
    """``intercept_parameterisation = "auto"`` centres a signal's offsets by its events in the
    panel: two panels of one shape under one spec can build different graphs, and must not
    share a compiled model."""
    import dataclasses

    from forecast.model import intercept_geometry

    a, _ = panels
    base = forecast.load_spec("default")
    design = make_design(a, base)
    counts = [k for k, f in enumerate(design.families_of) if f in ("poisson", "negbin")]
    fewest = design.intercept_events().min(axis=0)
    spec = base.model_copy(update={"intercept_parameterisation": "auto",
                                   "centred_intercept_events": int(fewest.max()) + 1})
    # the same panel with every count ten thousand times larger (and none zero)
    dense = dataclasses.replace(design, families={
        fam: dataclasses.replace(b, value=(b.value + 1) * 10_000) if fam in ("poisson", "negbin")
        else b for fam, b in design.families.items()})
    # the simulated indicators with intercept offsets are its count signals
    assert [k for k, f in enumerate(design.families_of) if f != "normal"] == counts
    assert (intercept_geometry(design, spec) == "noncentred").all()
    assert (intercept_geometry(dense, spec) == "centred").all()
    assert model_key(design, spec) != model_key(dense, spec)
    polar = spec.model_copy(update={"intercept_parameterisation": "auto_polar"})
    assert (intercept_geometry(dense, polar) == "polar").all()
    assert len({model_key(dense, spec), model_key(dense, polar), model_key(design, polar)}) == 3


def test_intercept_events_count_what_pins_each_intercept():
    """Summed counts for a count signal, the rarer outcome's months for a binary one, observed
    values for a normal one (Design.intercept_events)."""
    import dataclasses

    from forecast.design import FamilyBlock

    design = make_design(forecast.simulate(n_allies=2, n_months=12, seed=11).panel, SPEC)

    def block(family, ally, signal, value):
        n = len(value)
        return FamilyBlock(family, np.array(ally), np.array(signal), np.zeros(n, int),
                           np.ones(n, int), np.zeros(n, int), np.array(value))

    design = dataclasses.replace(design, families={
        "poisson": block("poisson", [0, 0, 1], [0, 0, 0], [3, 4, 0]),
        # ally 0: three 1s of four months (rarer: one 0); ally 1: one 1 of three
        "bernoulli": block("bernoulli", [0, 0, 0, 0, 1, 1, 1], [1] * 7, [1, 1, 0, 1, 0, 1, 0]),
        "normal": block("normal", [0, 1, 1], [2, 2, 2], [0.5, -1.0, 2.0]),
    })
    events = design.intercept_events()
    np.testing.assert_array_equal(events[:, :3], [[7, 1, 1], [0, 1, 2]])
    assert not events[:, 3:].any()


@pytest.fixture(scope="module")
def panels():
    # two calendar years each: their number is the length of the hedging level's walk, whose
    # steps are free values of the compiled graph (docs/decisions/0032)
    a = forecast.simulate(n_allies=2, n_months=12, seed=11, start="2014-05").panel
    # same allies × months × years, other values, other missingness, other calendar
    b = forecast.simulate(n_allies=2, n_months=12, seed=12, start="2016-05").panel
    return a, b


def test_same_shape_same_key_other_spec_other_key(panels):
    a, b = panels
    da, db = make_design(a, SPEC), make_design(b, SPEC)
    assert model_key(da, SPEC) == model_key(db, SPEC)
    other = SPEC.model_copy(update={"priors": SPEC.priors.model_copy(
        update={"loading_scale": 2.0})})
    assert model_key(da, other) != model_key(da, SPEC)
    c = forecast.simulate(n_allies=3, n_months=12, seed=11).panel
    assert model_key(make_design(c, SPEC), SPEC) != model_key(da, SPEC)
    # as many months in one calendar year: a walk of hedging's level one step shorter
    one_year = make_design(forecast.simulate(n_allies=2, n_months=12, seed=11).panel, SPEC)
    assert SPEC.outcome_drift and model_key(one_year, SPEC) != model_key(da, SPEC)
    still = SPEC.model_copy(update={"outcome_drift": False, "drift": ()})
    assert model_key(one_year, still) == model_key(da, still)


@pytest.fixture(scope="module")
def reused_and_fresh(panels):
    a, b = panels
    fitter = CompiledFitter(SPEC, share_cache=False)
    fitter.fit(a, seed=1, **SAMPLE)
    reused = fitter.fit(b, seed=3, **SAMPLE)
    fresh_fitter = CompiledFitter(SPEC, share_cache=False)
    fresh = fresh_fitter.fit(b, seed=3, **SAMPLE)
    return fitter, reused, fresh_fitter, fresh


def test_reuse_does_not_recompile(reused_and_fresh):
    fitter, reused, fresh_fitter, _ = reused_and_fresh
    assert fitter.n_compiles == 1 and fitter.n_reused == 1
    assert reused.timings["reused_compiled_model"] is True
    assert reused.timings["compile_s"] == 0.0
    assert fresh_fitter.n_compiles == 1


def test_reuse_gives_identical_draws_to_a_fresh_compile(reused_and_fresh):
    _, reused, _, fresh = reused_and_fresh
    for name in ("credibility", "loading", "intercept"):
        np.testing.assert_array_equal(reused.posterior[name].values,
                                      fresh.posterior[name].values)


def test_reused_fit_carries_the_new_panels_coordinates(panels, reused_and_fresh):
    _, b = panels
    _, reused, _, _ = reused_and_fresh
    periods = list(reused.posterior["credibility"]["period"].values)
    assert periods[0] == "2016-05" and len(periods) == b.n_months
    assert list(reused.credibility()["period"].unique()) == periods


def test_warm_start_from_previous_fit(panels, reused_and_fresh):
    fitter, _, _, _ = reused_and_fresh
    _, b = panels
    warm = fitter.fit(b, seed=5, init="previous", **SAMPLE)
    assert warm.timings["warm_start"] is True and warm.timings["reused_compiled_model"]
    assert fitter.n_compiles == 1
    assert np.isfinite(warm.posterior["credibility"].values).all()


def test_a_warm_start_carries_a_fit_over_to_a_longer_panel(panels, reused_and_fresh):
    """A backtest's next origin is a panel one or more months longer: another compiled model,
    but still a warm start from the fitter's previous fit (its cache key had held the draws, so
    every new length had started cold), and from a shorter Fit passed as ``init``."""
    fitter = CompiledFitter(SPEC, share_cache=False)
    short = fitter.fit(panels[0], seed=1, **SAMPLE)
    longer = forecast.simulate(n_allies=2, n_months=15, seed=11).panel
    warm = fitter.fit(longer, seed=2, init="previous", **SAMPLE)
    assert warm.timings["warm_start"] is True and fitter.n_compiles == 2
    assert fitter.fit(longer, seed=3, init=short, **SAMPLE).timings["warm_start"] is True


def test_a_shorter_fits_draws_are_matched_to_the_new_panels_months(reused_and_fresh):
    """The months an earlier fit had keep its draws, by month: a longer panel's new months
    start at 0 (the prior mean of the standardised innovations), a panel starting later drops
    the months before it, and a panel sharing no month takes the draws by position."""
    from forecast.compiled import _aligned, _picks
    from forecast.model import build_model

    _, fit, _, _ = reused_and_fresh  # 2 allies, 2016-05 to 2017-04
    picks = _picks(fit.posterior, [rv.name for rv in fit.model.free_RVs], k=3, seed=0)
    old = picks["state_innovation"].transpose("sample", "ally", "period").values

    def aligned(start, months, allies=2):
        panel = forecast.simulate(n_allies=allies, n_months=months, seed=4, start=start).panel
        model = build_model(make_design(panel, SPEC), SPEC)
        return _aligned(picks, model)

    later = aligned("2016-08", 15)["state_innovation"]  # 2016-08 to 2017-10
    np.testing.assert_array_equal(later[:, :, :9], old[:, :, 3:])
    assert later.shape == (3, 2, 15) and not later[:, :, 9:].any()
    elsewhere = aligned("2020-01", 10)["state_innovation"]
    np.testing.assert_array_equal(elsewhere, old[:, :, :10])
    np.testing.assert_array_equal(aligned("2016-08", 15)["intercept_z"],
                                  picks["intercept_z"].values)
    assert aligned("2016-05", 12, allies=3).startswith("its 'ally' is A00, A01, this panel's "
                                                       "A00, A01, A02")
    # as many allies, other ones; a variable of other dimensions (another intercept geometry)
    other = picks.assign_coords(ally=["X", "Y"])
    model = build_model(make_design(forecast.simulate(n_allies=2, n_months=12, seed=4).panel,
                                    SPEC), SPEC)
    assert _aligned(other, model).startswith("its 'ally' is X, Y, this panel's A00, A01")
    renamed = picks.assign(intercept_z=picks["intercept_z"].rename(ally="member"))
    assert _aligned(renamed, model).startswith("its 'intercept_z' has dimensions")


def test_a_years_drift_steps_follow_its_months():
    """The drift steps (labelled by year) are matched as the months are: by label where the
    panels share a month, else by position, so that a panel starting later does not take the
    step into an earlier year as the step into its own."""
    import xarray as xr

    from forecast.compiled import _along

    steps = xr.DataArray(np.array([[1.0, 2.0, 3.0]]), dims=("sample", "drift_step"),
                         coords={"drift_step": [2015, 2016, 2017]})
    later = _along(steps, "drift_step", [2017, 2018], by_label=True)
    np.testing.assert_array_equal(later.values, [[3.0, 0.0]])
    elsewhere = _along(steps, "drift_step", [2021, 2022, 2023, 2024], by_label=False)
    np.testing.assert_array_equal(elsewhere.values, [[1.0, 2.0, 3.0, 0.0]])


def _compiled_for(fitter, panel):
    from forecast.model import build_model

    design = make_design(panel, fitter.spec)
    model = build_model(design, fitter.spec)
    entry, _, _ = fitter._entry(design, model)
    return entry, model, fitter._with_data(entry, model)


def test_a_reused_model_starts_where_nutpie_starts_a_fresh_one(panels, reused_and_fresh):
    """The reused model's start is laid out in the compiled model's order of free variables,
    which is not the built model's (``fix_lengths`` reorders them): laid out in the built
    model's, every cold start put each variable's values into another's place."""
    fitter, _, _, _ = reused_and_fresh
    a, _ = panels
    entry, _, compiled = _compiled_for(fitter, a)  # the panel the entry was compiled for
    for seed in (0, 5):
        np.testing.assert_array_equal(compiled.initial_point_func(seed),
                                      entry.compiled.initial_point_func(seed))


def test_a_warm_start_is_at_the_earlier_fits_draws(panels, reused_and_fresh):
    """Each start is a posterior draw, mapped into nutpie's flat vector: its log density is
    the one nutpie recorded for that draw. Mapped in the wrong order, warm starts were far in
    the tails (log densities thousands below the draws') and the chains diverged."""
    from forecast.backend import logp_caller
    from forecast.compiled import _aligned

    fitter, fit, _, _ = reused_and_fresh
    _, b = panels
    entry, model, compiled = _compiled_for(fitter, b)  # the panel ``fit`` was drawn from
    post = fit.posterior[[rv.name for rv in model.free_RVs]].isel(chain=0, draw=[0, 7, 19])
    points = _aligned(post.rename(draw="sample").drop_vars(["chain", "sample"]), model)
    flat = fitter._flat(entry, model, points)
    logp = [logp_caller(compiled, row)()[0] for row in flat]
    recorded = fit.idata["sample_stats"]["logp"].values[0, [0, 7, 19]]
    np.testing.assert_allclose(logp, recorded, rtol=1e-9)


def test_a_fit_of_other_allies_cannot_start_a_fit(panels, reused_and_fresh):
    _, fit, _, _ = reused_and_fresh
    fitter = CompiledFitter(SPEC, share_cache=False)
    three = forecast.simulate(n_allies=3, n_months=12, seed=11).panel
    with pytest.raises(forecast.InputError, match="init: the fit cannot start this one: its "
                       "'ally' is A00, A01, this panel's A00, A01, A02"):
        fitter.fit(three, init=fit, **SAMPLE)


def test_bad_init_is_a_clear_error(panels, reused_and_fresh):
    fitter, _, _, _ = reused_and_fresh
    with pytest.raises(ValueError, match="unconstrained dimensions"):
        fitter.fit(panels[0], init=np.zeros(3), **SAMPLE)


def test_a_sampler_option_nutpie_refuses_is_refused_before_compiling(panels, monkeypatch):
    """As forecast.fit refuses it: an unknown option reached nutpie only after the compile."""
    import forecast.compiled as compiled

    def no_build(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(compiled, "build_model", no_build)
    fitter = CompiledFitter("static")
    with pytest.raises(forecast.InputError, match="Unknown settings attribute") as err:
        fitter.fit(panels[0], max_depth=8)
    assert err.value.parameter == "max_depth"
    with pytest.raises(forecast.InputError, match="expected one of diag") as err:
        CompiledFitter("static", adaptation="lowrank").fit(panels[0])
    assert err.value.parameter == "adaptation"
    with pytest.raises(AssertionError, match="the model was built"):
        fitter.fit(panels[0], maxdepth=8, trace="memory")


def test_fit_many_tunes_a_warm_started_fit_less(monkeypatch):
    """A warm start saves time only with a shorter warm-up: ``fit_many`` tuned every fit for
    ``tune`` steps. By default it now tunes a warm-started one for WARM_TUNE (decision 0024),
    ``tune`` where that is fewer, or what ``warm_tune`` says."""
    from forecast.compiled import WARM_TUNE

    fitter = CompiledFitter(SPEC, share_cache=False)
    calls = []
    monkeypatch.setattr(fitter, "fit", lambda panel, **kw: calls.append(kw))
    for kwargs, tunes in (({}, [None, WARM_TUNE, WARM_TUNE]), ({"tune": 30}, [30, 30, 30]),
                          ({"warm_tune": 500}, [None, 500, 500])):
        calls.clear()
        fitter.fit_many(["p1", "p2", "p3"], draws=10, **kwargs)
        assert [c.get("tune") for c in calls] == tunes
        assert [c.get("init") for c in calls] == [None, "previous", "previous"]
    calls.clear()
    fitter.fit_many(["p1", "p2"], warm_start=False, draws=10)
    assert calls == [{"draws": 10}, {"draws": 10}]
    # iter_fits: a seed per panel (a backtest's origins), told apart from one seed for all
    calls.clear()
    list(fitter.iter_fits(["p1", "p2"], warm_start=False, seeds=[5, 6]))
    assert [c["seed"] for c in calls] == [5, 6]
    with pytest.raises(forecast.InputError, match="fewer seeds than panels: none for panel 2"):
        list(fitter.iter_fits(["p1", "p2"], seeds=[5]))
    with pytest.raises(forecast.InputError, match="give seed or seeds"):
        list(fitter.iter_fits(["p1"], seed=1, seeds=[5]))
