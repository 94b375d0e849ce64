"""A second process fills numba's cache while the first compiles (forecast.precompile,
docs/decisions/0016-background-precompile.md).

It must compile each operation for the signature the first process asks for (or the first
gains nothing), its expansion callback must be the one the first would build (or the first
compiles its own), and with it the compiled model must be what it is without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pymc.model.transform.optimization import freeze_dims_and_data
from pytensor.graph.fg import FunctionGraph

import forecast
import forecast.cfuncs as cfuncs
from forecast.backend import logp_caller
from forecast.design import make_design
from forecast.model import build_model
from forecast.precompile import helper_order, in_background
from forecast.spec import load_spec


def _model(seed: int):
    """A small frozen model of the package."""
    spec = load_spec("static")
    panel = forecast.simulate(n_allies=2, n_months=24, missing=0.1, seed=seed).panel
    return freeze_dims_and_data(build_model(make_design(panel, spec), spec))


def _tiny_model(values: np.ndarray, *, frozen: bool) -> pm.Model:
    """A model of a few operations (a cold compile takes seconds), with its data shared or,
    ``frozen``, compiled in as constants: then new data make both callbacks new."""
    with pm.Model() as model:
        y = pm.Data("y", values)
        mu = pm.Normal("mu")
        sigma = pm.HalfNormal("sigma")
        pm.Normal("obs", mu + pm.math.exp(0.1 * mu), sigma, observed=y, shape=y.shape)
        pm.Deterministic("centred", mu - y.mean())  # the data in the expansion, too
    return freeze_dims_and_data(model) if frozen else model


def _check_order(fgraph, order):
    assert sorted(map(id, order)) == sorted(map(id, fgraph.toposort()))
    seen = set()
    for node in order:
        assert all(i.owner is None or i.owner in seen for i in node.inputs)
        seen.add(node)


def test_the_helper_starts_from_the_other_end_of_pytensors_order():
    x, y = pt.vector("x"), pt.vector("y")
    outputs = [pt.exp(x) + pt.log(y), (pt.sin(x) * y).sum(), pt.cos(pt.exp(y))]
    fgraph = FunctionGraph([x, y], outputs, clone=True)
    forward = helper_order(fgraph, reverse=False)
    assert forward == fgraph.toposort()
    backward = helper_order(fgraph, reverse=True)
    _check_order(fgraph, backward)
    # of the nodes ready at the start (those reading only inputs), the latest in PyTensor's
    # order comes first
    first = [n for n in forward if all(i.owner is None for i in n.inputs)][-1]
    assert backward[0] is first and backward != forward
    # and the same holds on a model's log-density and gradient
    with pytensor.config.change_flags(numba__fastmath=False):
        logp_fn = cfuncs.model_functions(_model(seed=1))[2]
    fgraph = logp_fn.maker.fgraph
    _check_order(fgraph, helper_order(fgraph, reverse=True))


# Run in a fresh process with an empty cache directory: operations of the same types are
# compiled once per machine, so in the test process most would already be there.
_FIRST_READS = """
import contextlib, json, sys
import numpy as np, pymc as pm, pytensor
from pytensor.link.numba.cache import NUMBA_CACHE_PATH
import forecast.cfuncs as cfuncs
from forecast.precompile import in_background

def files():
    return {p.name: p.stat().st_mtime_ns for p in NUMBA_CACHE_PATH.iterdir()}

before_main = {}

@contextlib.contextmanager
def run_first(tasks):  # the second process, run to the end before this one compiles
    before_main["tasks"] = [t.func.__name__ for t in tasks]
    with in_background(tasks, wait=True):
        before_main["files"] = files()
        yield

cfuncs.in_background = run_first
cfuncs.available_cores = lambda: 2
sys.path.insert(0, TESTS)
from test_precompile import _tiny_model
model = _tiny_model(np.array([0.3, -1.2, 2.0, 0.7]), frozen=False)
with pytensor.config.change_flags(numba__fastmath=False):
    compiled = cfuncs.compile_model(model)
after = files()
json.dump({"tasks": before_main["tasks"], "before": before_main["files"], "after": after,
           "hits": [compiled.compiled_logp_func.cache_hits,
                    compiled.compiled_expand_func.cache_hits]}, sys.stdout)
"""


def test_what_the_helper_compiles_is_what_the_first_process_reads(tmp_path):
    """With the helper's tasks run to the end before the first process compiles, that compile
    finds every operation and the expansion's callback in the cache: it writes only the
    log-density's callback, and changes no file the helper wrote. (A model with shared data,
    so the shared arrays' types are checked as well as the draw's.)"""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}
    script = _FIRST_READS.replace("TESTS", repr(str(Path(__file__).parent)))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["tasks"] == ["warm_operations", "compile_callback"]
    before, after = result["before"], result["after"]
    assert len(before) > 10  # the helper did write the operations
    assert result["hits"] == [0, 1]  # the expansion's callback was the helper's
    assert {k: v for k, v in after.items() if k in before} == before
    new = sorted(set(after) - set(before))
    assert new and all("logp_entry" in name for name in new), new


def test_a_compile_with_the_helper_builds_what_one_without_builds(monkeypatch):
    """The real second process, on a graph not yet in the cache (fresh data compiled in as
    constants): log-density, gradient and a short run's draws are those of nutpie's own
    compile, bit for bit."""
    import nutpie

    entered = []
    real = cfuncs.in_background

    @contextlib.contextmanager
    def spy(tasks):
        entered.append(len(tasks))
        with real(tasks):
            yield

    monkeypatch.setattr(cfuncs, "in_background", spy)
    monkeypatch.setattr(cfuncs, "available_cores", lambda: 2)
    fresh = np.random.default_rng(int.from_bytes(os.urandom(4))).normal(size=5)
    model = _tiny_model(fresh, frozen=True)
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = cfuncs.compile_model(model)
        reference = nutpie.compile_pymc_model(model, backend="numba")
    assert entered == [2]
    x = np.linspace(-1.0, 1.0, reference.n_dim)
    logp, grad = logp_caller(compiled, x)()
    ref_logp, ref_grad = logp_caller(reference, x)()
    assert logp == ref_logp
    np.testing.assert_array_equal(grad, ref_grad)
    kwargs = dict(draws=20, tune=20, chains=2, cores=1, seed=3, progress_bar=False)
    post = nutpie.sample(compiled, **kwargs)["posterior"].to_dataset()
    ref_post = nutpie.sample(reference, **kwargs)["posterior"].to_dataset()
    assert list(post.data_vars) == list(ref_post.data_vars)
    for name, da in ref_post.data_vars.items():
        np.testing.assert_array_equal(post[name].values, da.values)


def test_the_second_process_is_stopped_with_the_block():
    """A task still running when the block ends is stopped, and the block's own error, if
    any, is the one raised."""
    started = time.perf_counter()
    with pytest.raises(KeyError, match="mine"), in_background([partial(time.sleep, 60)]):
        raise KeyError("mine")
    assert time.perf_counter() - started < 30


def test_without_a_second_process_the_block_still_runs():
    """Tasks that cannot be sent (here a lambda, which pickle refuses) leave the block to run
    alone: a first compile is then slower, never broken."""
    ran = []
    with in_background([lambda: None]):
        ran.append(True)
    assert ran == [True]
    with pytest.raises(KeyError, match="mine") as raised, in_background([lambda: None]):
        raise KeyError("mine")
    assert raised.value.__context__ is None  # not chained to the pickling error
