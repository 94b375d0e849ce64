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


def test_other_data_is_refused(saved):
    _, _, path = saved
    other = forecast.simulate(n_allies=3, n_months=24, seed=4).panel
    with pytest.raises(InputError, match="made on other data"):
        forecast.load_fit(path, panel=other)


def test_altered_spec_is_refused(saved, tmp_path):
    _, fit, path = saved
    spec = json.loads(fit.spec.to_json())
    spec["priors"]["loading_scale"] += 1.0
    bad = _rewrite(path, tmp_path / "bad.nc", forecast_spec=json.dumps(spec))
    with pytest.raises(InputError, match="does not match its hash"):
        forecast.load_fit(bad)


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
