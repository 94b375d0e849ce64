"""Shared test configuration."""

import os
from pathlib import Path

import pytest

# Keep numba/BLAS from oversubscribing the 2-core CI machine when pytest-xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def _share_cores() -> None:
    """Each pytest-xdist worker runs on its own share of the cores (on 2 cores with 2 workers,
    one each), and so does every process it starts. A first compile starts a helper process
    only where it sees a second core (forecast.cfuncs.available_cores, docs/decisions/0016):
    the helper pays where that core is idle, and in a suite whose other worker keeps it busy
    it only competes (tests/test_backend.py with every cache new, 2 workers on 2 cores:
    633 s with the helpers, 592 s without, 2026-12-04). Its own tests ask for it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    index = int(worker[2:])
    mine = cores[index::count] if len(cores) >= count else [cores[index % len(cores)]]
    try:
        os.sched_setaffinity(0, mine)
    except OSError:  # a system that refuses it: the workers share the cores as before
        pass


_share_cores()

# The docstrings' examples run as tests (pyproject's --doctest-modules over forecast/). These
# compile a model: minutes each on 2 cores, so they run with the slow tests.
SLOW_DOCTESTS = {
    "forecast.cfuncs.model_functions",
    "forecast.inference.fit",
    "forecast.backend",
    "forecast.results.load_fit",
}


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if type(item).__name__ == "DoctestItem" and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def refuse_path(monkeypatch):
    """``refuse_path(method, refused)``: ``Path.<method>`` raises PermissionError for the paths
    ``refused(path)`` picks, as the file system does for what lies in a folder at chmod 000.
    The tests run as root, which chmod does not stop."""
    def patch(method: str, refused) -> None:
        original = getattr(Path, method)

        def refusing(self, *args, **kwargs):
            if refused(self):
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Path, method, refusing)

    return patch


@pytest.fixture(scope="session")
def quick_mode() -> str | None:
    """The PyTensor mode that compiles a whole model's graph soonest: ``"JAX"`` where the
    optional ``gpu`` extra is installed, else ``None`` (PyTensor's default backend, numba).
    On a machine with no caches JAX compiled the drift spec's log-density on the embedded
    data in 7.5 s where numba took 79 s. JAX needs a model whose lengths are constants
    (``freeze_dims_and_data``). For a test of the model, not of the backend that samples it."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return None
    return "JAX"


@pytest.fixture
def at_random_point(quick_mode):
    """``evaluate(model, outputs, seed, mode=None)``: ``outputs`` (one graph or a list) at the
    model's initial point moved by standard-normal noise (unconstrained); ``seed`` a list: one
    such point per seed, compiled once. ``mode="FAST_COMPILE"`` evaluates in Python without
    compiling C, seconds less on a bare machine, and without the rewrites that make the graph
    numerically stable: for outputs that need none (a log-likelihood does).
    ``mode="JAX"`` compiles with JAX, with the rewrites, in seconds where a numba compile of a
    whole model's log-likelihood takes about a minute on a bare machine; it needs a model
    whose lengths are constants (``freeze_dims_and_data``) and, where the optional ``gpu``
    extra is not installed, compiles with PyTensor's default backend instead."""
    import numpy as np

    def evaluate(model, outputs, seed, mode=None):
        if mode == "JAX":
            mode = quick_mode
        single = not isinstance(outputs, (list, tuple))
        # the outputs as functions of the value variables: left as random variables, they
        # would be drawn afresh from the prior at each call, whatever the point
        outs = model.replace_rvs_by_values([outputs] if single else list(outputs))
        fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore",
                              mode=mode)
        start = model.initial_point()

        def at(s):
            rng = np.random.default_rng(s)
            # numpy arrays whatever the backend (JAX returns its own)
            got = [np.asarray(v) for v in fn({k: v + rng.normal(size=np.shape(v))
                                               for k, v in start.items()})]
            return got[0] if single else got
        return [at(s) for s in seed] if isinstance(seed, list) else at(seed)
    return evaluate


@pytest.fixture
def drifting_catalog(tmp_path) -> Path:
    """The fixtures' catalog (every family; monthly, quarterly and annual signals) with its
    quarterly count ``meetings`` drifting, written to ``tmp_path``."""
    text = (Path(__file__).parent / "fixtures" / "signals.toml").read_text(encoding="utf-8")
    old = 'sign = 0\nunit = "high-level'
    assert old in text
    path = tmp_path / "signals.toml"
    path.write_text(text.replace(old, 'sign = 0\ndrifts = true\nunit = "high-level'),
                    encoding="utf-8")
    return path


@pytest.fixture
def drifting_model_at(drifting_catalog, at_random_point):
    """``evaluate(seed, update=None)``: the default spec (``update`` applied to it) on a
    48-month panel of :func:`drifting_catalog`, and at random points (``seed`` as for
    :func:`at_random_point`) the values of the parameters that its observations'
    log-likelihoods read, ``names``, then each family's and the outcome's pointwise
    log-likelihoods. Returns ``(sim, spec, design, model, names, values)``; the model is
    frozen, for JAX, which evaluates it in seconds."""
    import forecast
    from pymc.model.transform.optimization import freeze_dims_and_data

    from forecast.design import make_design
    from forecast.model import build_model

    def evaluate(seed, update=None):
        sim = forecast.simulate(n_months=48, catalog=drifting_catalog, seed=3)
        spec = forecast.load_spec("default").model_copy(update=update or {})
        design = make_design(sim.panel, spec)
        model = freeze_dims_and_data(build_model(design, spec))
        names = ["credibility", "intercept",
                 "loading_ally" if spec.loadings == "pooled" else "loading",
                 "intercept_drift", "overdispersion", "noise", "outcome_intercept",
                 "outcome_loading", "outcome_overdispersion"]
        if spec.outcome_drift:
            names.append("outcome_drift")
        observed = [model[f"{fam}_indicators"] for fam in design.families] + [model["outcome"]]
        values = at_random_point(model, [*(model[n] for n in names),
                                         *model.logp(vars=observed, sum=False)],
                                 seed=seed, mode="JAX")
        return sim, spec, design, model, names, values
    return evaluate
