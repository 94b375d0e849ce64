"""One switch over samplers: each gives the same kind of result on the same panel."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import forecast
from forecast.errors import InputError


@pytest.fixture(scope="module")
def small_sim():
    return forecast.simulate(n_allies=3, n_months=24, seed=3)


@pytest.fixture(scope="module")
def small_panel(small_sim):
    return small_sim.panel


@pytest.mark.parametrize("sampler", ["pymc", "advi", "numpyro"])
def test_every_sampler_returns_the_latent(small_sim, sampler):
    if sampler == "numpyro":
        pytest.importorskip("numpyro")  # the optional `gpu` extra
    extra = {"n": 3000} if sampler == "advi" else {}  # optimisation steps of the preview
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        fit = forecast.fit(small_sim.panel, draws=40, tune=40, chains=2, seed=1,
                           sampler=sampler, **extra)
    verdicts = [w for w in said if issubclass(w.category, forecast.ConvergenceWarning)]
    # the verdict is said of the line that called forecast.fit (ADVI's always comes: its
    # draws are not a chain's), not of a line in the package
    assert verdicts or sampler != "advi"
    assert [w.filename for w in verdicts] == [__file__] * len(verdicts)
    cred = fit.credibility()
    # the latent itself, not only its shape: even these few draws follow the truth (0.92 for
    # PyMC, 0.80 for ADVI's preview, 0.92 for nutpie on 2026-12-02); a flipped sign or allies
    # out of order falls far below
    mean = fit.posterior["credibility"].mean(("chain", "draw"))
    truth = small_sim.truth["credibility"].sel(ally=mean["ally"], period=mean["period"])
    assert np.corrcoef(mean.values.ravel(), truth.values.ravel())[0, 1] > 0.6
    assert len(cred) == 3 * 24
    assert np.isfinite(cred[["mean", "sd", "q05", "q95"]].to_numpy()).all()
    assert (cred["q05"] <= cred["q95"]).all()
    post = fit.idata["posterior"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 40
    assert fit.diagnostics().approximate == (sampler == "advi")


def test_an_advi_preview_stopped_early_is_refused():
    """PyMC returns the approximation as it stands on Ctrl-C (and SIGTERM, which the command
    line turns into one), and ``--sampler advi --force`` published that half-optimised
    preview with exit 0. Here the interrupt comes at step 50 of 1000."""
    import pymc as pm

    from forecast.inference import sample_model

    with pm.Model() as model:
        pm.Normal("x")

    def ctrl_c(approx, losses, step):
        if step == 50:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="after 49 of 1000 steps"):
        sample_model(model, sampler="advi", draws=10, chains=2, n=1000, callbacks=[ctrl_c])
    # not interrupted: a run to the end, with or without its losses kept, and one that a
    # convergence check stops (PyMC's callbacks stop by StopIteration)
    def converged(approx, losses, step):
        if step == 50:
            raise StopIteration("converged")

    for extra in ({}, {"score": False}, {"callbacks": [converged]}):
        idata, _ = sample_model(model, sampler="advi", draws=10, chains=2, n=1000, **extra)
        assert idata["posterior"].sizes["draw"] == 10


@pytest.mark.parametrize("sampler", ["pymc", "advi"])
def test_pymc_compiles_without_fastmath(sampler, monkeypatch):
    """PyTensor 3 compiles PyMC's NUTS and ADVI with numba, whose default fastmath made the
    same seed's draws differ between a cold and a warm cache (docs/decisions/0006): both
    compile inside the package's strict context, which ends with the call."""
    import pymc as pm
    import pytensor

    from forecast.inference import sample_model

    seen = []

    def compiling(*args, **kwargs):
        seen.append(pytensor.config.numba__fastmath)
        raise KeyboardInterrupt  # nothing to sample: the flag is what is asked of the call

    monkeypatch.setattr(pm, "sample" if sampler == "pymc" else "fit", compiling)
    with pm.Model() as model:
        pm.Normal("x")
    before = pytensor.config.numba__fastmath
    with pytest.raises(KeyboardInterrupt):
        sample_model(model, sampler=sampler, draws=10, chains=2)
    assert seen == [False] and pytensor.config.numba__fastmath == before


def test_unknown_sampler_is_a_clear_error(small_panel):
    with pytest.raises(InputError, match="unknown sampler"):
        forecast.fit(small_panel, sampler="gibbs")


def test_numpyro_without_its_extra_is_refused_before_compiling(small_panel, monkeypatch):
    """Without the 'gpu' extra the run failed after validation, in PyMC, with a traceback."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numpyro" else real(name, *a))
    monkeypatch.setattr("forecast.inference.build_model", _must_not_build)
    with pytest.raises(InputError, match=r"optional 'gpu' extra: pip install -e '\.\[gpu\]'"):
        forecast.fit(small_panel, sampler="numpyro")


def _must_not_build(*args, **kwargs):
    raise AssertionError("the model was built before the sampler was checked")


def test_a_misspelt_argument_or_a_spec_field_is_refused_before_compiling(monkeypatch):
    """``draw=300`` and ``intercept_reference="panel"`` went to the sampler and failed after
    the compile with "Unknown settings attribute"."""
    import forecast.inference as inference

    def no_build(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(inference, "build_model", no_build)
    panel = forecast.simulate(n_allies=2, n_months=12, seed=1).panel
    cases = {"draw": "did you mean 'draws'", "chain": "did you mean 'chains'",
             "intercept_reference": "field of the model spec",
             "noise_floor": r"spec.priors.model_copy\(update=\{'noise_floor'"}
    for key, message in cases.items():
        with pytest.raises(forecast.InputError, match=message) as err:
            forecast.fit(panel, **{key: 1})
        assert err.value.parameter == key
    # sizes past the sampler's integers failed after the compile, with nutpie's OverflowError
    for key, value in (("draws", 10**23), ("tune", 10**7), ("chains", 65)):
        with pytest.raises(forecast.InputError, match=f"{key} must be an integer from") as err:
            forecast.fit(panel, **{key: value})
        assert err.value.parameter == key
    # any other keyword goes to nutpie, which refused an unknown one or a bad value only
    # after the compile, with its own AttributeError ("Unknown settings attribute: foo_bar")
    for key, value, message in (("foo_bar", 1, "Unknown settings attribute: foo_bar"),
                                ("maxdepth", "x", "cannot be interpreted as an integer"),
                                ("adaptation", "lowrank", "expected one of diag, draw_diag, "),
                                ("mass_matrix_gamma", 1e-5, "not available for diag"),
                                # what forecast's sampling sets itself
                                ("progress_bar", True, "did you mean 'progress'"),
                                ("zarr_store", None, "use trace"),
                                ("blocking", False, "set by forecast itself")):
        with pytest.raises(forecast.InputError, match=message) as err:
            forecast.fit(panel, **{key: value})
        assert err.value.parameter == key
    # and the real options reach the build: nutpie's, those of forecast's sampling, and the
    # deprecated ones nutpie turns into an adaptation
    for options in ({"maxdepth": 8, "target_accept": 0.8}, {"adaptation": "low_rank",
                                                           "mass_matrix_gamma": 1e-5},
                    {"init_mean": None, "progress_template": "x"},
                    {"trace": "memory", "warmup_stats": True, "cores": 1},
                    {"low_rank_modified_mass_matrix": True, "mass_matrix_gamma": 1e-5}):
        with pytest.raises(AssertionError, match="the model was built"):
            forecast.fit(panel, **options)
    # a negative seed failed after the compile, in the sampler ("can't convert negative int
    # to unsigned"); a fractional number of draws in the sampler's own check
    for key, value in (("seed", -1), ("draws", 2.5), ("chains", 0), ("tune", -1)):
        with pytest.raises(forecast.InputError, match="must be an integer") as err:
            forecast.fit(panel, **{key: value})
        assert err.value.parameter == key
    # a path where the panel goes raised AttributeError deep in the design, and in load_fit
    for call in (lambda: forecast.fit("observations.csv"),
                 lambda: forecast.load_fit("fit.nc", panel="observations.csv")):
        with pytest.raises(forecast.InputError, match="expected a Panel") as err:
            call()
        assert err.value.parameter == "panel"
    # a simulation where its panel goes, and a misspelt spec name, each told the way out
    sim = forecast.simulate(n_allies=2, n_months=12, seed=1)
    with pytest.raises(forecast.InputError, match="got Simulation; it holds one: pass its "
                                                  r"\.panel"):
        forecast.fit(sim)
    for name, near in (("defualt", "default"), ("STATIC", "static")):
        with pytest.raises(forecast.SpecError, match=f"value '{name}': unknown spec: expected "
                           f"one of default, .*static.* \\(did you mean '{near}'\\?\\)"):
            forecast.fit(panel, spec=name)
    with pytest.raises(forecast.SpecError, match=r"value 'zzz': unknown spec: expected one of "
                       r"[a-z, ]+ or a path to a \.toml spec$") as err:
        forecast.fit(panel, spec="zzz")
    assert err.value.parameter == "spec"


@pytest.mark.parametrize("where, says", [
    # a folder and a file that is not TOML were "no shipped spec named '/'" in the library (the
    # command line, which resolved the spec itself, named them)
    ("/", "/: a folder, not a spec file: expected a shipped spec name (default, "),
    (str(Path(__file__).resolve().parents[1] / "README.md"), "README.md: not a .toml spec file"),
    ("/no/such/spec.toml", "spec.toml: spec file not found: expected a shipped spec name"),
    ("no/such", "such: spec file not found"),
    (".", ".: a folder, not a spec file"),  # was "unknown spec", as a name
    ("/no/such/spec.TOML", "spec.TOML: spec file not found"),  # was "unknown spec"
])
def test_a_spec_path_is_named_as_what_it_is(where, says):
    with pytest.raises(forecast.SpecError, match=re.escape(says)) as err:
        forecast.load_spec(where)
    assert err.value.file == where


def test_a_spec_file_with_a_capital_suffix_is_read(tmp_path):
    """``x.TOML`` was refused as "not a .toml spec file"."""
    from forecast.spec import spec_file

    shipped = spec_file("static")
    copy = tmp_path / "mine.TOML"
    copy.write_bytes(shipped.read_bytes())
    mine = forecast.load_spec(copy)
    assert mine.name == "mine"
    assert mine.model_copy(update={"name": "static"}) == forecast.load_spec(shipped)
