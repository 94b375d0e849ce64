"""The compiled log-density does not depend on whether numba compiled it now or loaded it.

A compile with numba's on-disk cache switched off is what a cold machine does; a compile
with it on, after the first has filled it, is what every later run does. Their gradients
must agree bit for bit, or one seed gives two sets of draws
(docs/decisions/0006-reproducible-draws.md).

Sampling streams the trace to disk (docs/decisions/0010-trace-on-disk.md): what is read back
must be what nutpie would have held in memory.
"""

from __future__ import annotations

import dataclasses
import tempfile

import numpy as np
import pytensor
import pytest
from pymc.model.transform.optimization import freeze_dims_and_data

import forecast
from forecast.backend import compile_nutpie, logp_caller
from forecast.design import make_design
from forecast.model import build_model
from forecast.spec import load_spec


@pytest.mark.slow
def test_cold_and_cached_compiles_give_the_same_gradient():
    sim = forecast.simulate(n_allies=2, n_months=12, seed=3)
    spec = load_spec("default")
    design = make_design(sim.panel, spec)
    results = []
    for cache in (True, False):  # the first fills (or reads) the on-disk cache
        model = freeze_dims_and_data(build_model(design, spec))
        with pytensor.config.change_flags(numba__cache=cache):
            compiled = compile_nutpie(model)
        logp, grad = logp_caller(compiled, np.linspace(-1.0, 1.0, compiled.n_dim))()
        results.append((logp, grad.copy()))
    (lp_cached, g_cached), (lp_cold, g_cold) = results
    assert np.isfinite(lp_cached) and np.isfinite(g_cached).all()
    assert lp_cached == lp_cold
    np.testing.assert_array_equal(g_cached, g_cold)


def test_the_cache_name_changes_with_everything_compiled_into_a_callback():
    """Two callbacks share a cache entry only if all they compile in is the same: the graph,
    the generated source, the table's layout and the arrays' dtypes (not the sizes: the
    graph reads them from its inputs)."""
    from forecast.cfuncs import cache_name

    table = np.dtype([("shared", [("data", [("shared0", np.uintp)])])])
    other_table = np.dtype([("shared", [("data", [("shared1", np.uintp)])])])
    base = dict(graph_key="g", src="def f(): pass", record_dtype=table,
                dtypes=[np.dtype("f8")])
    changed = [dict(graph_key="h"), dict(src="def f(): return 1"),
               dict(record_dtype=other_table), dict(dtypes=[np.dtype("i8")]),
               dict(dtypes=[])]
    names = {cache_name(**{**base, **change}) for change in changed}
    assert cache_name(**base) == cache_name(**base)
    assert len(names) == len(changed) and cache_name(**base) not in names


def test_a_longer_panel_reads_the_compiled_callbacks_and_gives_its_own_density():
    """The graph is the same for every length of panel (docs/decisions/0021): a panel with
    more months, observations and years loads both callbacks from the cache, and they give
    that panel's log-density and gradient, as PyMC computes them, not the first panel's."""
    from forecast.model import fix_lengths

    # a drifting signal: the walk's steps and years are lengths of the graph too
    spec = load_spec("default").model_copy(update={"drift": ["milex_share_gdp"]})
    sim = forecast.simulate(n_allies=2, n_months=30, seed=5)
    models = [fix_lengths(build_model(make_design(panel, spec), spec))
              for panel in (sim.panel.truncate("2015-09"), sim.panel)]
    assert len(models[0].coords["drift_step"]) < len(models[1].coords["drift_step"])
    shorter = compile_nutpie(models[0])
    compiled = compile_nutpie(models[1])
    assert compiled.compiled_logp_func.cache_hits == 1
    assert compiled.compiled_expand_func.cache_hits == 1
    model = models[1]
    point = model.initial_point(random_seed=2)
    x = np.concatenate([np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs])
    assert x.size == compiled.n_dim
    logp, grad = logp_caller(compiled, x)()
    ref_logp, ref_grad = _pymc_density(model, point)
    np.testing.assert_allclose(logp, ref_logp, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)
    # a point of the first panel's length, with the longer panel's data, is refused, not read
    # from the wrong slices
    n = shorter.n_dim
    with pytest.raises(RuntimeError, match="could not be evaluated"):
        logp_caller(dataclasses.replace(compiled, _n_dim=n), x[:n])()


def _pymc_density(model, point):
    """PyMC's log-density of ``model`` and its gradient (value variables in the model's
    order) at ``point``, computed apart from nutpie and from our callbacks.

    Where the optional ``gpu`` extra is installed, JAX evaluates PyMC's log-density graph
    and differentiates it itself: an independent gradient, compiled in 6 s where PyTensor's
    numba compile of the same density and gradient takes 124 s on a machine with no caches
    (most of this test's time on a bare machine). JAX needs the lengths as constants, so it
    evaluates the model frozen: the same density at the same point."""
    try:
        import jax
    except ImportError:
        return model.compile_fn([model.logp(), model.dlogp()], point_fn=True)(point)
    from pymc.sampling.jax import get_jaxified_graph

    frozen = freeze_dims_and_data(model)  # its value variables may come in another order
    names = [v.name for v in model.value_vars]
    values = {v.name: v for v in frozen.value_vars}
    density = get_jaxified_graph(inputs=[values[n] for n in names], outputs=[frozen.logp()])
    logp, grads = jax.value_and_grad(lambda values: density(*values)[0])(
        [point[n] for n in names])
    return float(logp), np.concatenate([np.ravel(np.asarray(g)) for g in grads])


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen-vs-nutpie", "shared-data-vs-pymc"])
def test_cached_entry_points_are_nutpies_or_pymcs_own(frozen):
    """compile_nutpie builds nutpie's C callbacks so that numba keeps them on disk
    (docs/decisions/0015): a second compile loads both and samples as the first, bit for bit.
    Frozen, log-density, gradient, layout and draws are those of nutpie's own compile, bit for
    bit. With shared data (a graph of any size, docs/decisions/0021, is not nutpie's graph)
    every ``pm.Data`` container is shared under its name, which ``with_data`` looks up, the
    layout is the frozen model's, and the density and gradient are PyMC's own to rounding,
    also after ``with_data`` swaps in another panel's arrays. (Nutpie's own compile of the
    shared-data graph took 107 s of this test's 205 s on a machine with no caches; PyMC's
    density through JAX takes seconds; without the ``gpu`` extra, see ``_pymc_density``.)"""
    import nutpie
    from nutpie.compile_pymc import _compute_shapes

    from forecast.compiled import model_data

    spec = load_spec("static")
    models = [build_model(make_design(forecast.simulate(n_allies=2, n_months=12, seed=s).panel,
                                      spec), spec) for s in (3, 4)]
    if frozen:
        models = [freeze_dims_and_data(m) for m in models]
    compiled = compile_nutpie(models[0])
    again = compile_nutpie(models[0])  # new callbacks, as in a later process: read from disk
    assert again.compiled_logp_func.cache_hits == 1
    assert again.compiled_expand_func.cache_hits == 1
    kwargs = dict(draws=30, tune=30, chains=2, cores=1, seed=7, progress_bar=False)
    posts = [nutpie.sample(c, **kwargs)["posterior"].to_dataset() for c in (compiled, again)]
    # ours read from the cache sample as ours compiled now, bit for bit
    for name, da in posts[0].data_vars.items():
        np.testing.assert_array_equal(posts[1][name].values, da.values)

    if frozen:
        with pytensor.config.change_flags(numba__fastmath=False):
            reference = nutpie.compile_pymc_model(models[0], backend="numba")
        assert reference.compiled_logp_func.cache_hits == 0  # nutpie's own: never cached
        assert (compiled.n_dim, compiled.n_expanded) == (reference.n_dim, reference.n_expanded)
        assert compiled.shape_info[0] == reference.shape_info[0]
        assert list(compiled.coords) == list(reference.coords)
        assert not reference.shared_var_keys
        assert list(compiled.shared_data) == ["sizes"]  # the graph's sizes only
        x = np.linspace(-1.0, 1.0, reference.n_dim)
        ref_logp, ref_grad = logp_caller(reference, x)()
        ref_post = nutpie.sample(reference, **kwargs)["posterior"].to_dataset()
        for mine, post in zip((compiled, again), posts, strict=True):
            logp, grad = logp_caller(mine, x)()
            assert logp == ref_logp
            np.testing.assert_array_equal(grad, ref_grad)
            assert list(post.data_vars) == list(ref_post.data_vars)
            for name, da in ref_post.data_vars.items():
                np.testing.assert_array_equal(post[name].values, da.values)
        return

    # every data container, and besides them only the graph's sizes and the lengths of the
    # dimensions it reads (docs/decisions/0021)
    data_names = {v.name for v in models[0].data_vars}
    lengths = {name for name, length in models[0].dim_lengths.items()
               if isinstance(length, pytensor.compile.SharedVariable)}
    shared = {v.name for v in compiled.shared_var_keys}
    assert data_names <= shared <= data_names | lengths | {"sizes"}
    assert "sizes" in shared and shared & lengths
    rng = np.random.default_rng(2)
    point = {k: v + rng.normal(size=np.shape(v))
             for k, v in models[0].initial_point().items()}
    x = np.concatenate([np.ravel(point[models[0].rvs_to_values[rv].name])
                        for rv in models[0].free_RVs])
    assert x.size == compiled.n_dim
    # the layout read from the lengths is the one nutpie reads from them as constants
    names, _, shapes = compiled.shape_info
    constant = _compute_shapes(freeze_dims_and_data(models[0]))
    assert set(names) == set(constant)
    assert [tuple(shape) for shape in shapes] == [tuple(constant[n]) for n in names]
    assert compiled.n_expanded == sum(int(np.prod(shape)) for shape in shapes)
    data = model_data(models[1])
    swapped = again.with_data(**{v.name: data[v.name] for v in again.shared_var_keys
                                 if v.name in data})
    own, other = (_pymc_density(model, point) for model in models)
    logps = []
    for mine, (ref_logp, ref_grad) in ((compiled, own), (again, own), (swapped, other)):
        logp, grad = logp_caller(mine, x)()
        # JAX differentiates the graph itself: at four such points its log-density differed
        # from ours by 8e-16 relative at most and its gradient by 3.5e-13
        np.testing.assert_allclose(logp, ref_logp, rtol=1e-13)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-12)
        logps.append(logp)
    assert logps[0] == logps[1] != logps[2]  # the swapped data did change the density


def test_the_trace_on_disk_holds_the_draws_nutpie_holds_in_memory(tmp_path, monkeypatch):
    """sample_nutpie streams the trace to a zarr store; what it reads back must be nutpie's
    own in-memory result, draw for draw, with the same variables and coordinates, and the
    store must be gone afterwards."""
    import nutpie

    from forecast import backend
    from forecast.backend import sample_nutpie

    sim = forecast.simulate(n_allies=2, n_months=12, seed=3)
    spec = load_spec("static")
    compiled = compile_nutpie(freeze_dims_and_data(build_model(make_design(sim.panel, spec),
                                                               spec)))
    kwargs = dict(draws=30, tune=30, chains=2, cores=1, seed=7)
    reference = nutpie.sample(compiled, progress_bar=False, save_warmup=False, **kwargs)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    streamed = sample_nutpie(compiled, trace="disk", **kwargs)
    assert list(tmp_path.iterdir()) == []  # the store is deleted

    ref_post = reference["posterior"].to_dataset()
    post = streamed["posterior"].to_dataset()
    assert list(post.data_vars) == list(ref_post.data_vars)
    for name, da in ref_post.data_vars.items():
        assert post[name].dims == da.dims
        np.testing.assert_array_equal(post[name].values, da.values)
    for dim in ("ally", "period"):
        assert list(post[dim].values) == list(ref_post[dim].values)
    ref_stats = reference["sample_stats"].to_dataset()
    stats = streamed["sample_stats"].to_dataset()
    for name in ("diverging", "energy", "n_steps", "step_size"):
        np.testing.assert_array_equal(stats[name].values, ref_stats[name].values)
    assert not any(name.startswith("warmup") for name in streamed.children)
    for how in ("disk", "memory"):
        warm = sample_nutpie(compiled, warmup_stats=True, trace=how, **kwargs)
        assert warm["warmup_sample_stats"].sizes["draw"] == 30
        assert "warmup_posterior" not in warm.children

    with pytest.raises(ValueError, match="trace must be"):
        sample_nutpie(compiled, trace="dsik", **kwargs)
    with pytest.raises(TypeError, match="save_warmup"):
        sample_nutpie(compiled, save_warmup=True, **kwargs)

    # "auto" streams to disk exactly when the kept draws exceed the threshold
    stores = []
    real_sample = nutpie.sample

    def spy(*args, **options):
        stores.append(options.get("zarr_store") is not None)
        return real_sample(*args, **options)

    monkeypatch.setattr(nutpie, "sample", spy)
    size = compiled.n_expanded * 8 * kwargs["draws"] * kwargs["chains"]
    for threshold, to_disk in ((size, False), (size - 1, True)):
        monkeypatch.setattr(backend, "DISK_TRACE_BYTES", threshold)
        sample_nutpie(compiled, **kwargs)
        assert stores[-1] is to_disk


def test_more_draws_from_the_same_seed_run_the_same_chains_on():
    """The monthly run answers a refusal on R-hat alone by asking for twice the draws from the
    same seed (forecast.monthly.runs_on); its report says the same chains ran on, which holds
    only if the first draws are the earlier fit's, bit for bit."""
    from forecast.backend import sample_nutpie

    sim = forecast.simulate(n_allies=2, n_months=12, seed=3)
    spec = load_spec("static")
    compiled = compile_nutpie(freeze_dims_and_data(build_model(make_design(sim.panel, spec),
                                                               spec)))
    kwargs = dict(tune=30, chains=2, cores=1, seed=7)
    short = sample_nutpie(compiled, draws=30, **kwargs)["posterior"].to_dataset()
    longer = sample_nutpie(compiled, draws=60, **kwargs)["posterior"].to_dataset()
    other = sample_nutpie(compiled, draws=60, **{**kwargs, "seed": 8})["posterior"].to_dataset()
    assert longer.sizes["draw"] == 60
    for name, da in short.data_vars.items():
        np.testing.assert_array_equal(longer[name].values[:, :30], da.values)
    assert not np.array_equal(other["credibility"].values[:, :30], short["credibility"].values)
