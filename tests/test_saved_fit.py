"""A saved fit rebuilds from its file and refuses what does not match it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import forecast
from forecast.errors import InputError
from forecast.spec import json_hash


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    sim = forecast.simulate(n_allies=3, n_months=24, seed=3)
    fit = forecast.fit(sim.panel, seed=1, sampler="advi", n=2000, draws=40, warn=False)
    path = tmp_path_factory.mktemp("fit") / "fit.nc"
    fit.save(path)
    return sim, fit, path


def _rewrite(path, out, **attrs):
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    tree.attrs.update(attrs)
    tree.to_netcdf(out, engine="h5netcdf")
    return out


def test_roundtrip_gives_the_same_posterior(saved):
    sim, fit, path = saved
    back = forecast.load_fit(path, panel=sim.panel)
    assert back.spec == fit.spec
    np.testing.assert_array_equal(back.credibility()[["mean", "q05", "q95"]],
                                  fit.credibility()[["mean", "q05", "q95"]])


def test_an_advi_fit_shows_its_draws_as_one_sample(saved):
    """Its repr said "4 chains × 40 draws": the approximation's 160 draws, split into chains
    for the tables, are not chains (a user's trial)."""
    sim, fit, path = saved
    for f in (fit, forecast.load_fit(path, panel=sim.panel)):
        assert "advi, 160 draws from its approximation, seed 1;" in repr(f), repr(f)


def test_other_data_is_refused(saved):
    _, _, path = saved
    other = forecast.simulate(n_allies=3, n_months=24, seed=4).panel
    with pytest.raises(InputError, match=r"made on other data.*observation\(s\) differ.*: "
                       r"refit on this panel, or load without panel= to use the fit's own"):
        forecast.load_fit(path, panel=other)


def test_the_refusal_of_other_data_says_where_it_differs(saved):
    """A description changed in signals.toml was refused as "other data" like new values:
    the message now says where the panel differs from the fitted one."""
    import dataclasses

    sim, _, path = saved
    panel = sim.panel
    hedging = panel.catalog.signals["hedging"]
    relabelled = dataclasses.replace(panel.catalog, signals={
        **panel.catalog.signals, "hedging": dataclasses.replace(hedging, unit="acts a month")})
    cases = [(panel.truncate(str(panel.months[-3])), "the months differ: "
              f"{panel.months[0]} to {panel.months[-1]} fitted, {panel.months[0]} to "
              f"{panel.months[-3]} given")]
    frame = panel.to_frame()
    frame.loc[frame.index[0], "value"] += 1
    row = frame.iloc[0]
    cases.append((forecast.Panel.from_frame(frame, panel.catalog, start=str(panel.months[0]),
                                            end=str(panel.months[-1])),
                  f"1 observation(s) differ, first {row['ally']} {row['signal']}"))
    cases.append((dataclasses.replace(panel, catalog=relabelled),
                  "the catalogs differ, first at signals.hedging.unit"))
    reordered = dataclasses.replace(panel.catalog, allies=dict(
        reversed(list(panel.catalog.allies.items()))))
    cases.append((dataclasses.replace(panel, catalog=reordered),
                  "the catalogs list their allies or signals in another order"))
    for other, says in cases:
        with pytest.raises(InputError, match="made on other data") as err:
            forecast.load_fit(path, panel=other)
        assert says in str(err.value)


def test_altered_spec_is_refused(saved, tmp_path):
    _, fit, path = saved
    spec = json.loads(fit.spec.to_json())
    spec["priors"]["loading_scale"] += 1.0
    bad = _rewrite(path, tmp_path / "bad.nc", forecast_spec=json.dumps(spec))
    with pytest.raises(InputError, match="does not match its hash"):
        forecast.load_fit(bad)


def test_a_posterior_reordered_cut_or_short_of_a_quantity_is_refused(saved, tmp_path):
    """The tables label by coordinate and the forecasts go by position: a posterior with its
    allies reordered loaded, and credibility() named one ally's path another's. One without
    its persistence loaded, and forecast with none."""
    _, _, path = saved
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    post = tree["posterior"].to_dataset()
    allies = list(post.coords["ally"].values)
    for name, changed, says in (
            ("order.nc", post.assign_coords(ally=allies[::-1]), "ally coordinates"),
            ("cut.nc", post.isel(period=slice(0, -6)), "period coordinates"),
            # hedging's walk is read by position (its last year is the forecasts' level)
            ("years.nc", post.assign_coords(year=post["year"].values[::-1]), "year coordinates"),
            ("none.nc", post.drop_vars("credibility"), "holds no 'credibility'"),
            # a NaN loaded, and every forecast of it was NaN without a word
            ("nan.nc", post.assign(credibility=post["credibility"].where(
                post["period"] != post["period"][-1])), "'credibility' holds values that are "
             "not finite"),
            # read only where the model has them, so a file without them forecast as if the
            # model had none: no persistence, or a lapse that moves nothing
            ("phi.nc", post.drop_vars("persistence"), "holds no 'persistence', which the"),
            ("beta.nc", post.drop_vars(["driver_effect_ally", "outcome_intercept"]),
             "holds no 'driver_effect_ally', 'outcome_intercept'")):
        altered = tree.copy()
        altered["posterior"] = xr.DataTree(changed)
        altered.to_netcdf(tmp_path / name, engine="h5netcdf")
        with pytest.raises(InputError, match=says) as err:
            forecast.load_fit(tmp_path / name)
        assert err.value.file == str(tmp_path / name)


def test_a_fit_saved_before_its_quantities_were_stored_is_checked_against_its_model(saved,
                                                                                   tmp_path):
    """Files written before ``forecast_quantities`` (every registry's posterior.nc until
    then) are checked for what the spec's model has and the outputs read."""
    _, _, path = saved
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    del tree.attrs["forecast_quantities"]
    tree.to_netcdf(tmp_path / "old.nc", engine="h5netcdf")
    assert forecast.load_fit(tmp_path / "old.nc").spec.name == "default"
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().drop_vars("persistence"))
    tree.to_netcdf(tmp_path / "old_cut.nc", engine="h5netcdf")
    with pytest.raises(InputError, match="no 'persistence', which the fit's model"):
        forecast.load_fit(tmp_path / "old_cut.nc")


@pytest.mark.parametrize("value", [
    '{"loc": [NaN], "scale": [1.0]}', '{"loc": [null], "scale": [1.0]}',
    '{"loc": [0.0], "scale": [0.0]}', '{"loc": [0.0], "scale": [-1.0]}',
    '{"loc": [0.0, 1.0], "scale": [1.0, 1.0]}', '{"loc": [0.0]}', "[1, 2]", "{not json"])
def test_a_damaged_driver_standardisation_is_refused(saved, tmp_path, value):
    """NaN, a zero or negative scale loaded and forecast NaN (or reversed every effect)."""
    _, _, path = saved
    bad = _rewrite(path, tmp_path / "bad.nc", forecast_driver_standardisation=value)
    with pytest.raises(InputError, match="damaged fit file") as err:
        forecast.load_fit(bad)
    assert err.value.file == str(bad)


@pytest.mark.parametrize("attrs, message", [
    ({"forecast_sampler": "gibbs"}, "stored sampler 'gibbs' is none of nutpie"),
    ({"forecast_seed": -5}, "stored seed -5 is negative"),
    ({"forecast_timings": "[1, 2]"}, "timings are not a JSON object"),
    # an MCMC fit without its sampler statistics passed the divergence and E-BFMI checks as 0
    # divergences and an E-BFMI of 1
    ({"forecast_sampler": "nutpie"}, "hold no diverging or energy, which every fit by nutpie"),
    # a scale of the drivers other than the panel's changes what every driver effect means
    ("doubled", "standardisation stored is not the fitted panel's own"),
])
def test_what_no_fit_writes_is_refused(saved, tmp_path, attrs, message):
    """Each loaded without a word before (a helper's trial of load_fit on edited copies)."""
    _, fit, path = saved
    if attrs == "doubled":
        attrs = {"forecast_driver_standardisation": json.dumps({
            "loc": fit.design.driver_loc.tolist(),
            "scale": (2 * fit.design.driver_scale).tolist()})}
    bad = _rewrite(path, tmp_path / "bad.nc", **attrs)
    with pytest.raises(InputError, match=message) as err:
        forecast.load_fit(bad)
    assert err.value.file == str(bad) and "file altered" in str(err.value)
    # the same values where a fit can have them load: a simulation's standardisation is the
    # oracle's, and a fit by nutpie with its statistics
    if "forecast_driver_standardisation" in attrs:
        oracle = _rewrite(bad, tmp_path / "oracle.nc", forecast_sampler="oracle")
        assert forecast.load_fit(oracle).design.driver_scale.tolist() == (
            2 * fit.design.driver_scale).tolist()
    if attrs.get("forecast_sampler") == "nutpie":
        tree = xr.open_datatree(bad, engine="h5netcdf").load()
        shape = (tree["posterior"].sizes["chain"], tree["posterior"].sizes["draw"])
        tree["sample_stats"] = xr.DataTree(xr.Dataset({
            "diverging": (("chain", "draw"), np.zeros(shape, bool)),
            "energy": (("chain", "draw"), np.random.default_rng(0).normal(size=shape))}))
        tree.to_netcdf(tmp_path / "stats.nc", engine="h5netcdf")
        assert forecast.load_fit(tmp_path / "stats.nc").sampler == "nutpie"


def test_a_panel_equal_to_the_hashs_precision_loads(saved):
    """The data hash reads values to 12 significant digits: a panel that differs below that
    is the fitted one, and its standardisation of the drivers, differing in the last bits,
    must not be taken for an altered file."""
    sim, fit, path = saved
    frame = sim.panel.to_frame()
    drivers = frame["signal"] == "consultation_lapse"
    frame.loc[drivers, "value"] = frame.loc[drivers, "value"] * (1 + 1e-14)
    # built as the loader builds it, without its check that counts are whole
    near = forecast.panel.Panel.from_frame(frame, sim.panel.catalog, start=sim.panel.months[0],
                                           end=sim.panel.months[-1])
    assert near.data_hash() == sim.panel.data_hash()
    assert not np.array_equal(forecast.design.make_design(near, fit.spec).driver_scale,
                              fit.design.driver_scale)
    back = forecast.load_fit(path, panel=near)
    np.testing.assert_array_equal(back.design.driver_scale, fit.design.driver_scale)


def test_fit_saved_before_a_spec_field_existed_loads(saved, tmp_path):
    """A file written before ``intercept_reference`` was added stores JSON without it: its own
    hash still checks, and the missing field takes the behaviour of that time ("zero")."""
    _, fit, path = saved
    spec = json.loads(fit.spec.model_copy(update={"intercept_reference": "zero"}).to_json())
    del spec["intercept_reference"]
    text = json.dumps(spec, sort_keys=True)
    old = _rewrite(path, tmp_path / "old.nc", forecast_spec=text,
                   forecast_spec_hash=json_hash(text))
    assert forecast.load_fit(old).spec.intercept_reference == "zero"


@pytest.mark.parametrize("damage", [
    "drop forecast_catalog", "drop forecast_data_hash", "catalog not TOML",
    "timings not JSON", "format 99", "no posterior", "panel without first_month",
    "spec not valid"])
def test_a_damaged_file_is_an_input_error(saved, tmp_path, damage):
    """Each is refused with a message naming the file, not a KeyError or a decoder's
    traceback, nor loaded to fail at first use."""
    _, _, path = saved
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    if damage.startswith("drop "):
        del tree.attrs[damage[5:]]
    elif damage == "catalog not TOML":
        tree.attrs["forecast_catalog"] = "[allies\n"
    elif damage == "timings not JSON":
        tree.attrs["forecast_timings"] = "{not json"
    elif damage == "format 99":
        tree.attrs["forecast_format_version"] = "99"
    elif damage == "no posterior":
        del tree["posterior"]
    elif damage == "spec not valid":  # with its own hash, so that it is read and validated
        spec = json.loads(tree.attrs["forecast_spec"])
        spec["dynamics"] = "nope"
        text = json.dumps(spec)
        tree.attrs.update(forecast_spec=text, forecast_spec_hash=json_hash(text))
    else:
        ds = tree["panel"].to_dataset()
        ds.attrs.pop("first_month")
        tree["panel"] = xr.DataTree(ds)
    bad = tmp_path / "bad.nc"
    tree.to_netcdf(bad, engine="h5netcdf")
    with pytest.raises(InputError) as err:
        forecast.load_fit(bad)
    assert err.value.file == str(bad)


def test_save_keeps_sources_and_leaves_no_partial_file(tmp_path):
    """The panel's citations survive save and load; a failed save leaves nothing behind."""
    from forecast.forecasting import oracle_fit

    sim = forecast.simulate(n_allies=3, n_months=24, seed=3)
    sim.panel.write(tmp_path / "data")
    obs = tmp_path / "data" / "observations.csv"
    text = obs.read_text().replace(",simulated\n", ",a citation\n", 3)
    obs.write_text(text)
    panel = forecast.load_panel(obs, catalog=tmp_path / "data" / "signals.toml")
    import dataclasses

    fit = dataclasses.replace(oracle_fit(sim, n_draws=20), panel=panel)
    back = forecast.load_fit(fit.save(tmp_path / "fit.nc"))
    assert (back.panel.to_frame(sources=True)["source"] == "a citation").sum() == 3
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="not a directory"):
        fit.save(tmp_path / "taken")
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*.partial"))


def test_a_fit_that_cannot_be_read_says_so_in_one_phrase(saved, monkeypatch):
    """A posterior.nc at chmod 000 was refused with HDF5's paragraph of flags ("Unable to
    synchronously open file (… errno = 13 … o_flags = 0)"). Root ignores chmod, so the
    reader's refusal is raised here as h5py raises it."""
    import forecast.results as results

    _, _, path = saved

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Unable to synchronously open file (unable to open file: "
                                  "errno = 13, error message = 'Permission denied', o_flags = 0)")

    monkeypatch.setattr(results.xr, "open_datatree", refuse)
    with pytest.raises(InputError) as err:
        forecast.load_fit(path)
    assert str(err.value) == f"{path}: cannot be read (Permission denied)"


def test_a_fit_in_a_folder_that_cannot_be_searched_is_an_input_error(saved, refuse_path):
    """In a folder at chmod 000, ``Path.exists`` raises PermissionError rather than return
    False (Python 3.12 swallows only ENOENT, ENOTDIR, EBADF, ELOOP): load_fit and
    load_forecast let it out raw."""
    _, _, path = saved
    refuse_path("exists", lambda p: p == path)
    for load in (forecast.load_fit, forecast.load_forecast):
        with pytest.raises(InputError) as err:
            load(path)
        assert str(err.value) == f"{path}: cannot be read (Permission denied)"


def test_a_fit_that_would_not_load_is_not_saved(tmp_path):
    """``Fit.save`` wrote an MCMC fit without sampler statistics (only a hand-built one can be
    such), which ``load_fit`` then refused: it is refused when saved, and nothing is written."""
    import dataclasses

    oracle = forecast.oracle_fit(forecast.simulate(n_allies=2, n_months=12, seed=1), n_draws=4)
    assert oracle.save(tmp_path / "oracle.nc").is_file()  # the truth needs no statistics
    handmade = dataclasses.replace(oracle, sampler="nutpie")
    with pytest.raises(InputError, match="a fit by nutpie without diverging or energy in its "
                       "sampler statistics cannot be saved: load_fit would refuse it"):
        handmade.save(tmp_path / "handmade.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["oracle.nc"]


def test_the_fitted_panel_is_read_without_the_draws_and_checked_as_load_fit_does(saved,
                                                                                tmp_path):
    """A registry's data vintages are replayed from each run's posterior.nc: the panel comes
    back equal to the fitted one, and a file whose observations no longer match their hash,
    that is no fit, or that is missing is refused as load_fit refuses it."""
    from forecast.results import load_fitted_panel

    sim, _, path = saved
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    copy = tmp_path / "copy.nc"
    tree.to_netcdf(copy, engine="h5netcdf")
    assert load_fitted_panel(copy) == sim.panel
    tree.to_netcdf(copy, engine="h5netcdf")  # HDF5 refuses to truncate a file left open
    values = tree["panel"]["value"].values.copy()
    values[0] += 1.0
    tree["panel"] = xr.DataTree(tree["panel"].to_dataset().assign(
        value=("obs", values)))
    tree.to_netcdf(tmp_path / "edited.nc", engine="h5netcdf")
    del tree["panel"]
    tree.to_netcdf(tmp_path / "nopanel.nc", engine="h5netcdf")
    for bad, says in ((tmp_path / "edited.nc", "do not match the stored data hash"),
                      (tmp_path / "nopanel.nc", "not a fit saved by forecast"),
                      (tmp_path / "missing.nc", "saved fit not found")):
        for load in (load_fitted_panel, forecast.load_fit):
            with pytest.raises(InputError, match=says) as err:
                load(bad)
            assert err.value.file == str(bad)
