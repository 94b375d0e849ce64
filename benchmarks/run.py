"""Benchmark suite of issue 7: speed of inference on simulated workloads.

    python benchmarks/run.py [--workload S|M|L[,..]] [--repeat 3] [--sampler nutpie,...]
                             [--naive S] [--naive-repeat N] [--draws 1000] [--tune 1000]
                             [--chains 4] [--timeout 3600] [--out results.json] [--jobs 1]
    python benchmarks/run.py --merge a.json b.jsonl ... [--out merged.json]

Workloads (6 signals, 30 % of indicator values missing, see :func:`forecast.simulate`):
S = 8 allies × 144 months, M = 24 × 300, L = 60 × 360.

Samplers are given as ``name[:key=value[:key=value]]``:

* ``nutpie`` — the default path (numba, diagonal mass matrix, non-centred states);
  options ``adaptation=low_rank``, ``parameterisation=centred``, ``chains=N``;
* ``pymc`` — PyMC's NUTS on the default model;
* ``numpyro`` — JAX (CPU or GPU, whatever ``jax.devices()`` gives); options
  ``chain_method=vectorized|parallel|sequential`` and ``chains=N``;
* ``naive`` — the baseline of :mod:`benchmarks.naive` with default ``pm.sample()``
  (added automatically for the workloads named by ``--naive``, default S).

Every fit runs in its own subprocess (``--worker``): its peak resident memory is sampled from
the parent (the whole process tree, which covers PyMC's per-chain processes) and its own
``ru_maxrss`` is reported too. Per fit it records compile time, sampling time, min bulk and
tail ESS of the latent (``credibility``) and of all other posterior quantities, min-ESS per
second, R-hat, divergences, the gradient evaluations per second of the compiled log-density
(timed directly, one core) and the effective samples per gradient evaluation (from the
samplers' ``n_steps``). The table shows medians over repeats and the ratio of min-ESS/s of
the latent to the naive baseline of the same workload measured in the same run. With several
workloads it fits the exponent of fit time against allies × months (log-log slope).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from arguments import at_least, positive_float  # noqa: E402 - beside this script

WORKLOADS = {"S": (8, 144), "M": (24, 300), "L": (60, 360),
             "T": (3, 24)}  # T: a tiny smoke-test panel, not a benchmark workload
DATA_SEED = 20261123  # one simulated panel per workload; repeats vary the sampler seed
LATENT = "credibility"
_JSONL: str | None = None  # every finished fit is appended here as it completes


# ============================================================================ worker side
def _set_threads(cpus: list[int] | None) -> None:
    if cpus:
        try:
            os.sched_setaffinity(0, set(cpus))
        except (AttributeError, OSError):
            pass


def _ess_summary(idata) -> dict:
    """Min bulk/tail ESS and max R-hat of the latent and of every other posterior quantity,
    computed as the package's convergence gate computes them (forecast.convergence)."""
    import numpy as np

    from forecast.convergence import quantity_statistics

    post = idata["posterior"].to_dataset()
    out = {}
    groups = {"latent": [LATENT] if LATENT in post else [],
              "params": [v for v in post.data_vars if v != LATENT]}
    for label, names in groups.items():
        if not names:
            continue
        table = quantity_statistics(post[names])
        rhat, bulk, tail = (table[c].to_numpy() for c in ("r_hat", "ess_bulk", "ess_tail"))
        for key, arr, worst in (("ess_bulk", bulk, np.min), ("ess_tail", tail, np.min),
                                ("rhat", rhat, np.max)):
            # a quantity the gate fails outright has R-hat inf (convergence.py): keep it
            arr = arr[~np.isnan(arr)] if key == "rhat" else arr[np.isfinite(arr)]
            out[f"{label}_{key}"] = float(worst(arr)) if arr.size else float("nan")
    return out


def _stats_sum(idata, group: str, var: str) -> float | None:
    if group not in idata.children:
        return None
    ds = idata[group].to_dataset()
    if var not in ds:
        return None
    import numpy as np

    return float(np.nansum(ds[var].values))


def _time_calls(fn, min_seconds: float = 2.0, max_calls: int = 20000) -> float:
    """Calls per second of ``fn`` (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        el = time.perf_counter() - t0
        if el >= min_seconds or n >= max_calls:
            return n / el


def _grad_rate_pytensor(model) -> tuple[float, float]:
    """(evaluations per second, seconds to build and compile) of PyMC's logp+dlogp."""
    import numpy as np

    t0 = time.perf_counter()
    f = model.logp_dlogp_function(ravel_inputs=True)
    f.set_extra_values({})
    x0 = np.concatenate([np.asarray(v, float).ravel() for v in model.initial_point().values()])
    f._pytensor_function(x0)
    t_compile = time.perf_counter() - t0
    return _time_calls(lambda: f._pytensor_function(x0)), t_compile


def _grad_rate_nutpie(compiled) -> float:
    """Evaluations per second of the compiled log-density and gradient nutpie samples: the
    median of its own ``benchmark_logp``, else the same function timed through ctypes."""
    import numpy as np

    from forecast.backend import logp_caller

    point = np.asarray(compiled.initial_point_func(1), float)
    try:
        df = compiled.benchmark_logp(point, 300, 1)
        vals = df.to_numpy(dtype=float).ravel()
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size:
            return 1.0 / float(np.median(vals))
    except Exception:  # noqa: BLE001 - an older nutpie without it: time the same function
        pass
    return _time_calls(logp_caller(compiled, point))


def _grad_rate_jax(model) -> tuple[float, float]:
    """(evaluations per second, seconds to jit-compile) of logp+grad through JAX."""
    import jax
    from pymc.sampling.jax import get_jaxified_logp

    logp = get_jaxified_logp(model, negative_logp=False)
    ip = model.initial_point()
    xs = [jax.numpy.asarray(ip[v.name]) for v in model.value_vars]
    vg = jax.jit(jax.value_and_grad(lambda *a: logp(list(a)), argnums=tuple(range(len(xs)))))
    t0 = time.perf_counter()
    jax.block_until_ready(vg(*xs))
    t_compile = time.perf_counter() - t0
    rate = _time_calls(lambda: jax.block_until_ready(vg(*xs)))
    return rate, t_compile


def _finish_grad_only(rec: dict) -> dict:
    rec["grad_only"] = True
    rec["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return rec


def worker(job: dict) -> dict:
    _set_threads(job.get("cpus"))
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np

    import forecast
    from pymc.model.transform.optimization import freeze_dims_and_data

    from forecast.design import make_design
    from forecast.inference import FROZEN_SAMPLERS
    from forecast.model import build_model

    A, T = job["allies"], job["months"]
    opts = dict(job.get("options", {}))
    name = job["sampler"]
    sample = bool(int(opts.pop("sample", 1)))  # sample=0: time the gradient only
    chains = int(opts.pop("chains", job["chains"]))
    draws, tune, seed = job["draws"], job["tune"], job["seed"]
    sim = forecast.simulate(n_allies=A, n_months=T, missing=0.3, seed=DATA_SEED)
    spec = forecast.load_spec("default")
    if "parameterisation" in opts:
        spec = spec.model_copy(update={"parameterisation": opts.pop("parameterisation")})
    design = make_design(sim.panel, spec)
    t0 = time.perf_counter()
    if name == "naive":
        from benchmarks.naive import build_naive_model

        model = build_naive_model(design)
    else:
        model = build_model(design, spec)
        if name in FROZEN_SAMPLERS:
            # the model forecast.fit compiles: the same graph, so the same draws for a seed
            model = freeze_dims_and_data(model)
    build_s = time.perf_counter() - t0
    rec: dict = {"build_s": build_s, "n_free": int(sum(np.prod(v.shape) if v.shape else 1
                                                       for v in model.initial_point().values())),
                 "chains": chains, "draws": draws, "tune": tune, "seed": seed,
                 "spec_hash": spec.hash()[:12], "parameterisation": spec.parameterisation}

    if name == "nutpie":
        from forecast.backend import compile_nutpie, sample_nutpie

        adaptation = opts.pop("adaptation", "diag")
        rec["adaptation"] = adaptation
        t0 = time.perf_counter()
        compiled = compile_nutpie(model)
        rec["compile_s"] = time.perf_counter() - t0
        rec["grad_per_s"] = _grad_rate_nutpie(compiled)
        if not sample:
            return _finish_grad_only(rec)
        t0 = time.perf_counter()
        # as the package samples, except that the warm-up's per-draw statistics are kept to
        # count its gradient evaluations: on the in-memory path (a trace under 256 MiB, such
        # as S's) nutpie then holds the warm-up draws too, so S's peak memory includes them;
        # a larger trace (M, L) streams to disk as in the package
        idata = sample_nutpie(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                              adaptation=adaptation, warmup_stats=True)
        rec["sampling_s"] = time.perf_counter() - t0
    elif name in ("pymc", "naive"):
        import pymc as pm

        # builds and C-compiles logp+dlogp (pm.sample then finds it in PyTensor's cache)
        rec["grad_per_s"], rec["compile_s"] = _grad_rate_pytensor(model)
        if not sample:
            return _finish_grad_only(rec)
        t0 = time.perf_counter()
        with model:
            # pm.sample() with its defaults (only the size, seed and progress bar are set)
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=chains,
                              random_seed=seed, progressbar=False)
        rec["sampling_s"] = time.perf_counter() - t0
    elif name == "numpyro":
        import jax
        import pymc as pm

        rec["jax_devices"] = [str(d) for d in jax.devices()]
        rec["grad_per_s"], rec["compile_s"] = _grad_rate_jax(model)
        if not sample:
            return _finish_grad_only(rec)
        method = opts.pop("chain_method",
                          "vectorized" if jax.default_backend() == "gpu" else "parallel")
        rec["chain_method"] = method
        t0 = time.perf_counter()
        with model:
            idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed,
                              progressbar=False, nuts_sampler="numpyro",
                              nuts_sampler_kwargs={"chain_method": method},
                              compute_convergence_checks=False)
        rec["sampling_s"] = time.perf_counter() - t0  # includes the XLA compile of the sampler
    else:
        raise SystemExit(f"unknown sampler {name!r}")
    if opts:
        raise SystemExit(f"unused options for {name}: {opts}")

    t0 = time.perf_counter()
    rec.update(_ess_summary(idata))
    rec["ess_s"] = time.perf_counter() - t0
    steps = _stats_sum(idata, "sample_stats", "n_steps")
    if steps is None:
        steps = _stats_sum(idata, "sample_stats", "num_steps")
    warm = _stats_sum(idata, "warmup_sample_stats", "n_steps")
    rec["grad_evals_draws"] = steps
    rec["grad_evals_warmup"] = warm
    div = _stats_sum(idata, "sample_stats", "diverging")
    rec["divergences"] = int(div) if div is not None else None
    if steps:
        rec["ess_per_grad_latent"] = rec.get("latent_ess_bulk", float("nan")) / steps
        rec["ess_per_grad_all"] = min(rec.get("latent_ess_bulk", float("inf")),
                                      rec.get("params_ess_bulk", float("inf"))) / steps
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ruc = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    rec["ru_maxrss_mib"] = ru
    rec["ru_maxrss_children_mib"] = ruc
    return rec


# ============================================================================ parent side
def _tree_rss(proc) -> int:
    try:
        procs = [proc] + proc.children(recursive=True)
    except Exception:  # noqa: BLE001
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except Exception:  # noqa: BLE001
            pass
    return total


def run_job(job: dict, timeout: float) -> dict:
    """Run one fit in a subprocess; returns its record with peak memory and wall time."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        jpath, rpath = Path(tmp) / "job.json", Path(tmp) / "result.json"
        jpath.write_text(json.dumps(job))
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        if job.get("cpus"):
            n = str(len(job["cpus"]))
            env.update(NUMBA_NUM_THREADS=n, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                       MKL_NUM_THREADS="1")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--worker", str(jpath), str(rpath)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(ps))
            if time.perf_counter() - t0 > timeout:
                for p in ps.children(recursive=True) + [ps]:
                    try:
                        p.kill()
                    except Exception:  # noqa: BLE001
                        pass
                break
            time.sleep(0.2)
        out = proc.communicate()[0] or ""
        wall = time.perf_counter() - t0
        if rpath.exists():
            rec = json.loads(rpath.read_text())
            rec["ok"] = True
        else:
            rec = {"ok": False, "error": out[-3000:] or f"exit {proc.returncode}",
                   "timed_out": wall > timeout}
        rec["wall_s"] = wall
        rec["peak_rss_mib"] = max(peak / 2**20, rec.get("ru_maxrss_mib", 0.0))
        return rec


#: the options each sampler's worker reads (plan options and ``chains``/``sample`` aside)
SAMPLER_OPTIONS = {"nutpie": {"adaptation", "parameterisation"}, "pymc": {"parameterisation"},
                   "numpyro": {"chain_method", "parameterisation"}, "naive": set()}
PLAN_OPTIONS = {"only", "repeat", "draws", "tune", "chains", "sample"}


def _parse_sampler(text: str) -> tuple[str, dict]:
    name, *parts = text.split(":")
    opts = {}
    for part in parts:
        k, _, v = part.partition("=")
        opts[k] = int(v) if v.isdigit() else v
    return name, opts


def _median(values):
    vals = [v for v in values if isinstance(v, (int, float)) and v == v]
    return statistics.median(vals) if vals else None


def aggregate(records: list[dict]) -> dict:
    ok = [r for r in records if r.get("ok")]
    keys = ["compile_s", "sampling_s", "build_s", "latent_ess_bulk", "latent_ess_tail",
            "params_ess_bulk", "params_ess_tail", "latent_rhat", "params_rhat", "grad_per_s",
            "ess_per_grad_latent", "ess_per_grad_all", "peak_rss_mib", "divergences",
            "grad_evals_draws", "grad_evals_warmup", "wall_s"]
    agg = {k: _median([r.get(k) for r in ok]) for k in keys}
    for r in ok:
        if "sampling_s" not in r:
            continue
        s = r["sampling_s"]
        r["latent_ess_per_s"] = r["latent_ess_bulk"] / s
        r["min_ess_per_s"] = min(r["latent_ess_bulk"], r.get("params_ess_bulk", 1e300)) / s
        r["latent_ess_per_s_incl_compile"] = r["latent_ess_bulk"] / (s + max(r["compile_s"], 0))
        r["fit_s"] = s + max(r["compile_s"], 0)
    for k in ("latent_ess_per_s", "min_ess_per_s", "latent_ess_per_s_incl_compile", "fit_s"):
        agg[k] = _median([r.get(k) for r in ok])
    agg["iterations"] = _median([r["draws"] + r["tune"] for r in ok if "sampling_s" in r])
    timeouts = [r for r in records if not r.get("ok") and r.get("timed_out")]
    if timeouts:
        agg["timed_out_after_s"] = min(r["wall_s"] for r in timeouts)
        agg["planned_iterations"] = timeouts[0].get("draws", 0) + timeouts[0].get("tune", 0)
    agg["n_ok"] = len(ok)
    agg["n_failed"] = len(records) - len(ok)
    return agg


def scaling(results: dict) -> dict:
    """Exponent of fit time vs allies × months, per sampler (needs ≥ 2 workloads)."""
    import numpy as np

    out = {}
    by_sampler: dict[str, list] = {}
    for key, res in results.items():
        w, sampler = key.split("|", 1)
        a, t = WORKLOADS[w]
        by_sampler.setdefault(sampler, []).append((a * t, res["summary"]))
    for sampler, pts in by_sampler.items():
        pts = [(n, s) for n, s in pts if s.get("sampling_s") and s.get("iterations")]
        if len(pts) < 2:
            continue
        x = np.log([n for n, _ in pts])
        fit = {}
        # per iteration (tuning + draws), so workloads run with different lengths compare
        for k in ("sampling_s", "fit_s"):
            y = np.log([s[k] / s["iterations"] for _, s in pts])
            fit[f"exponent_{k}"] = float(np.polyfit(x, y, 1)[0])
        y = np.log([1.0 / s["grad_per_s"] for _, s in pts if s.get("grad_per_s")])
        if len(y) == len(x):
            fit["exponent_seconds_per_gradient"] = float(np.polyfit(x, y, 1)[0])
        fit["points"] = {str(n): {"sampling_s": s["sampling_s"], "fit_s": s["fit_s"],
                                  "iterations": s["iterations"]} for n, s in pts}
        out[sampler] = fit
    return out


def _fmt(v, spec=".3g"):
    if v is None:
        return "—"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def print_table(results: dict, machine: str, scale: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"forecast benchmarks — {machine}")
    cols = ["workload", "sampler", "tune+draws", "compile s", "sampling s", "latent ESS bulk/tail",
            "all ESS bulk/tail", "max R-hat", "latent min-ESS/s", "× naive", "grad/s",
            "ESS/grad", "peak MiB", "divergences", "ok"]
    for c in cols:
        table.add_column(c, justify="right" if c not in ("workload", "sampler") else "left")
    for key, res in results.items():
        w, sampler = key.split("|", 1)
        s = res["summary"]
        rhat = max([v for v in (s.get("latent_rhat"), s.get("params_rhat")) if v] or [0]) or None
        table.add_row(
            w, sampler, _fmt(s.get("iterations"), ".0f"), _fmt(s.get("compile_s"), ".1f"), _fmt(s.get("sampling_s"), ".1f"),
            f"{_fmt(s.get('latent_ess_bulk'), '.0f')}/{_fmt(s.get('latent_ess_tail'), '.0f')}",
            f"{_fmt(s.get('params_ess_bulk'), '.0f')}/{_fmt(s.get('params_ess_tail'), '.0f')}",
            _fmt(rhat, ".3f"), _fmt(s.get("latent_ess_per_s"), ".3g"),
            _fmt(res.get("ratio_vs_naive"), ".3g"), _fmt(s.get("grad_per_s"), ".3g"),
            _fmt(s.get("ess_per_grad_latent"), ".2g"), _fmt(s.get("peak_rss_mib"), ".0f"),
            ", ".join(_fmt(r.get("divergences")) for r in res.get("runs", [])
                      if r.get("ok") and "sampling_s" in r) or "—",
            f"{s['n_ok']}/{s['n_ok'] + s['n_failed']}"
            + (f" (killed at {s['timed_out_after_s']:.0f} s, {s['planned_iterations']} it.)"
               if s.get("timed_out_after_s") else ""))
    Console(width=260).print(table)
    for sampler, fit in scale.items():
        Console(width=260).print(
            f"scaling {sampler}: sampling time per iteration ∝ (allies×months)^"
            f"{fit['exponent_sampling_s']:.2f}, fit time (incl. compile) per iteration ^"
            f"{fit['exponent_fit_s']:.2f}"
            + (f", seconds per gradient ^{fit['exponent_seconds_per_gradient']:.2f}"
               if "exponent_seconds_per_gradient" in fit else ""))


def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "processor": platform.processor()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20)
        if out.returncode == 0 and out.stdout.strip():
            info["gpu"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        load = os.getloadavg()
        info["load_avg_at_start"] = load
    except OSError:
        pass
    versions = {}
    for mod in ("pymc", "pytensor", "nutpie", "numba", "numpy", "jax", "numpyro", "arviz"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod)
        except Exception:  # noqa: BLE001
            versions[mod] = None
    info["versions"] = versions
    return info


#: the smallest value of each plan option that takes a number
_PLAN_LEAST = {"repeat": 1, "draws": 1, "tune": 0, "chains": 1, "sample": 0}
DEFAULT_OUT = "benchmarks/results/results.json"


def _option_problem(name: str, key: str, value) -> str | None:
    """What is wrong with a sampler's option ``key=value`` (``name:key=value``), or None."""
    if key in _PLAN_LEAST:
        if not isinstance(value, int) or value < _PLAN_LEAST[key]:
            return f"expected a whole number of at least {_PLAN_LEAST[key]}"
    elif key == "parameterisation":
        from typing import get_args

        from forecast.spec import ModelSpec

        allowed = get_args(ModelSpec.model_fields["parameterisation"].annotation)
        if allowed and value not in allowed:
            return f"expected one of {', '.join(map(str, allowed))}"
    elif key == "adaptation" and name == "nutpie":
        from forecast.backend import check_nutpie_options
        from forecast.errors import InputError

        try:
            check_nutpie_options({"adaptation": value})
        except InputError as err:
            return str(err)
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", default="S", help="S, M, L or a comma list (default S)")
    ap.add_argument("--repeat", type=at_least(1), default=3,
                    help="fits per workload and sampler (default 3)")
    ap.add_argument("--sampler", default="nutpie",
                    help="comma list of name[:key=value...] (default nutpie)")
    ap.add_argument("--naive", default=None,
                    help="workloads on which the naive baseline is measured ('' for none; "
                         "default S where S is run)")
    ap.add_argument("--naive-repeat", type=at_least(1), default=None,
                    help="repeats of the naive baseline (default --repeat)")
    ap.add_argument("--draws", type=at_least(1), default=1000)
    ap.add_argument("--tune", type=at_least(0), default=1000)
    ap.add_argument("--chains", type=at_least(1), default=4)
    ap.add_argument("--jobs", type=at_least(1), default=1,
                    help="fits run at once, each pinned to its own block of the available "
                         "cores (their number // jobs; default 1)")
    ap.add_argument("--timeout", type=positive_float, default=3600.0,
                    help="seconds per fit (default 3600)")
    ap.add_argument("--out", default=None,
                    help=f"the results' JSON (a run's default {DEFAULT_OUT}, replaced; with "
                         "--merge, written only when given); a run also logs each fit to the "
                         "same name with .jsonl")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="combine result files (.json, or a run's .jsonl log; e.g. from two "
                         "machines or calls), print one table and the scaling fit; --out "
                         "writes the merged JSON")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.merge:
        try:
            return merge(args.merge, args.out)
        except MergeError as err:
            ap.error(str(err))
    if args.worker:
        job = json.loads(Path(args.worker[0]).read_text())
        rec = worker(job)
        Path(args.worker[1]).write_text(json.dumps(rec))
        return 0

    workloads = [w.strip().upper() for w in args.workload.split(",") if w.strip()]
    samplers = [s.strip() for s in args.sampler.split(",") if s.strip()]
    naive_on = ({"S"} & set(workloads) if args.naive is None else
                {w.strip().upper() for w in args.naive.split(",") if w.strip()})
    if naive_on - set(workloads):
        ap.error(f"--naive names {', '.join(sorted(naive_on - set(workloads)))}, not among "
                 f"--workload {', '.join(workloads)}: the baseline is measured on a workload "
                 "that is run")
    plan = []
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; expected one of {', '.join(WORKLOADS)}")
        names = (["naive"] if w in naive_on else []) + samplers
        for sampler in names:
            name, opts = _parse_sampler(sampler)
            if name not in SAMPLER_OPTIONS:
                ap.error(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLER_OPTIONS)}")
            unknown = set(opts) - SAMPLER_OPTIONS[name] - PLAN_OPTIONS
            if unknown:
                ap.error(f"unknown option(s) {', '.join(sorted(unknown))} for {name}; it takes "
                         + ", ".join(sorted(SAMPLER_OPTIONS[name] | PLAN_OPTIONS)))
            for key, value in opts.items():
                problem = _option_problem(name, key, value)
                if problem:
                    ap.error(f"{name}:{key}={value}: {problem}")
            # plan-level options: only=S+M (workloads), repeat, draws, tune
            only = str(opts.pop("only", "")).upper()
            if only and w not in only.split("+"):
                continue
            reps = int(opts.pop("repeat", args.naive_repeat if (name == "naive" and
                                                                 args.naive_repeat is not None)
                                else args.repeat))
            draws, tune = int(opts.pop("draws", args.draws)), int(opts.pop("tune", args.tune))
            label = ":".join(p for p in sampler.split(":")
                             if not p.startswith(("only=", "repeat=", "draws=", "tune=")))
            if "sample=0" in label:
                label = label.replace(":sample=0", "") + " (gradient only)"
            for r in range(reps):
                a, t = WORKLOADS[w]
                plan.append({"key": f"{w}|{label}", "workload": w, "allies": a, "months": t,
                             "sampler": name, "options": opts, "draws": draws,
                             "tune": tune, "chains": int(opts.get("chains", args.chains)),
                             "seed": 1000 + r, "repeat": r})
    if not plan:
        ap.error("no fit planned: every sampler's only= leaves out every --workload")
    args.out = args.out or DEFAULT_OUT
    global _JSONL
    _JSONL = str(Path(args.out).with_suffix(".jsonl"))
    Path(_JSONL).parent.mkdir(parents=True, exist_ok=True)
    # this run's fits only: a log left by an earlier run with the same --out is replaced, so
    # that --merge of it never mixes two runs
    Path(_JSONL).write_text("")
    info = machine_info()
    from forecast.cfuncs import available_cores

    ncpu = available_cores()
    print(f"{len(plan)} fits on {info.get('cpu_model', '?')} ({ncpu} cores"
          f"{', ' + info['gpu'] if 'gpu' in info else ''}), {args.jobs} at a time", flush=True)

    records: dict[str, list] = {}
    if args.jobs <= 1:
        for job in plan:
            rec = run_job(job, args.timeout)
            _report(job, rec)
            records.setdefault(job["key"], []).append({**job, **rec})
    else:
        from concurrent.futures import ThreadPoolExecutor
        import queue

        cpus = sorted(os.sched_getaffinity(0))
        width = max(1, len(cpus) // args.jobs)
        lanes: "queue.Queue[list[int]]" = queue.Queue()
        for i in range(args.jobs):
            lanes.put(cpus[i * width:(i + 1) * width])

        def _go(job):
            lane = lanes.get()
            try:
                job = {**job, "cpus": lane}
                rec = run_job(job, args.timeout)
                _report(job, rec)
                return job, rec
            finally:
                lanes.put(lane)

        # the naive fits and L first (a rough guess at the longest), so lanes finish together
        order = sorted(plan, key=lambda j: (j["sampler"] != "naive", j["workload"] != "L"))
        with ThreadPoolExecutor(args.jobs) as ex:
            for job, rec in ex.map(_go, order):
                records.setdefault(job["key"], []).append({**job, **rec})

    results = {}
    for key in dict.fromkeys(j["key"] for j in plan):
        recs = records.get(key, [])
        results[key] = {"summary": aggregate(recs), "runs": recs}
    info["cores"] = ncpu
    finish(results, info, vars(args), args.out)
    return 0


def finish(results: dict, info: dict, args_dict: dict, out_path: str | None) -> None:
    """Ratios vs naive, scaling fit, table and (where ``out_path`` is given) JSON for a set
    of results."""
    for key, res in results.items():
        w = key.split("|")[0]
        base = results.get(f"{w}|naive")
        res.pop("ratio_vs_naive", None)
        if base and key != f"{w}|naive" and base["summary"].get("latent_ess_per_s"):
            mine = res["summary"].get("latent_ess_per_s")
            res["ratio_vs_naive"] = mine / base["summary"]["latent_ess_per_s"] if mine else None
            res["ratio_vs_naive_min_ess_all"] = (
                res["summary"]["min_ess_per_s"] / base["summary"]["min_ess_per_s"]
                if res["summary"].get("min_ess_per_s") and base["summary"].get("min_ess_per_s")
                else None)
    scale = scaling(results)
    machine = (f"{info.get('cpu_model', '?')}, {info.get('cores', info.get('cpu_count'))} cores"
               + (f", {info['gpu']}" if "gpu" in info else ""))
    print_table(results, machine, scale)
    if out_path is None:
        return
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "args": args_dict, "results": results,
                               "scaling": scale}, indent=1, default=str))
    print(f"wrote {out}")


class MergeError(ValueError):
    """A file --merge cannot read as results."""


def _read_results(p: str) -> dict:
    """A results file as ``{"machine", "args", "results"}``: a run's JSON, or its per-fit
    ``.jsonl`` log (of a run that may not have finished, which records no machine)."""
    try:
        text = Path(p).read_text()
        if p.endswith(".jsonl"):
            grouped: dict[str, list] = {}
            for r in (json.loads(line) for line in text.splitlines() if line):
                grouped.setdefault(r["key"], []).append(r)
            return {"machine": {"source": p}, "args": {"jsonl": p},
                    "results": {k: {"summary": aggregate(v), "runs": v}
                                for k, v in grouped.items()}}
        data = json.loads(text)
        for key in ("machine", "args", "results"):
            data[key]  # noqa: B018 - each is read below
        for res in data["results"].values():
            res["runs"]  # noqa: B018
        return data
    except OSError as err:
        raise MergeError(f"{p}: cannot be read ({err.strerror or err})") from None
    except json.JSONDecodeError as err:
        raise MergeError(f"{p}: not JSON ({err.msg}, line {err.lineno})") from None
    except (KeyError, TypeError, AttributeError):
        raise MergeError(f"{p}: not a results file of benchmarks/run.py (expected a JSON object "
                         "with its machine, args and results, each result with its runs)") from None


def merge(paths: list[str], out_path: str | None) -> int:
    """Print one table and the scaling fit from several results files; write it to
    ``out_path`` where given. A file given twice would count its fits twice: refused."""
    twice = [p for p in dict.fromkeys(paths) if paths.count(p) > 1 or any(
        q != p and Path(q).resolve() == Path(p).resolve() for q in paths)]
    if twice:
        raise MergeError(f"{twice[0]} is given twice: its fits would count twice")
    results, infos, argss = {}, [], []
    for p in paths:
        data = _read_results(p)
        infos.append(data["machine"])
        argss.append(data["args"])
        for key, res in data["results"].items():
            if key in results and res["runs"]:
                runs = results[key]["runs"] + res["runs"]
                results[key] = {"summary": aggregate(runs), "runs": runs}
            else:
                results[key] = res
    known = [i for i in infos if "cpu_model" in i]  # a .jsonl log records no machine
    models = {i.get("cpu_model") for i in known}
    if len(models) > 1:
        print(f"warning: merging results from different machines: {models}")
    finish(results, known[0] if known else {"cpu_model": "machine not recorded (a .jsonl log)"},
           {"merged": paths, "args": argss}, out_path)
    return 0


def _report(job, rec) -> None:
    if _JSONL:
        with open(_JSONL, "a") as fh:
            fh.write(json.dumps({**job, **rec}, default=str) + "\n")
    if rec.get("ok") and rec.get("grad_only"):
        print(f"  {job['key']} #{job['repeat']}: compile {rec['compile_s']:.1f}s grad/s "
              f"{rec['grad_per_s']:.4g} peak {rec['peak_rss_mib']:.0f} MiB", flush=True)
    elif rec.get("ok"):
        print(f"  {job['key']} #{job['repeat']}: compile {rec['compile_s']:.1f}s sample "
              f"{rec['sampling_s']:.1f}s latent ESS {rec.get('latent_ess_bulk', float('nan')):.0f}"
              f" all ESS {rec.get('params_ess_bulk', float('nan')):.0f} grad/s "
              f"{rec.get('grad_per_s', float('nan')):.3g} peak {rec['peak_rss_mib']:.0f} MiB",
              flush=True)
    else:
        print(f"  {job['key']} #{job['repeat']}: FAILED {rec.get('error', '')[-1500:]}",
              flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
