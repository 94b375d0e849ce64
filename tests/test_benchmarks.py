"""The benchmark scripts refuse a bad argument or results file with a message, before any fit
(a contributor's trial: `--repeat 0` ran "0 fits" and replaced the results file with an empty
one; `--merge` of a missing or malformed file was a traceback)."""

from __future__ import annotations

import importlib.util
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextmanager
def _script(name: str):
    """The benchmark script ``name`` as a module, its folder on the path meanwhile (as when run
    as a script: its helpers lie beside it)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"benchmarks_{Path(name).stem}",
                                                      BENCHMARKS / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def run_py():
    with _script("run.py") as module:
        yield module


@pytest.mark.parametrize("argv, message", [
    (["--repeat", "0"], "argument --repeat: expected at least 1, not 0"),
    (["--naive-repeat", "0"], "argument --naive-repeat: expected at least 1, not 0"),
    (["--timeout", "0"], "expected a number above 0"),
    (["--sampler", "nutpie:draws=abc"], "nutpie:draws=abc: expected a whole number of at least 1"),
    (["--sampler", "nutpie:parameterisation=bogus"], "expected one of noncentred, centred"),
    (["--sampler", "nutpie:adaptation=bogus"], "expected one of diag, draw_diag"),
    (["--workload", "S", "--naive", "M"], "--naive names M, not among --workload S"),
    (["--sampler", "nutpie:only=M", "--naive", ""], "no fit planned"),
    (["--merge", "missing.json"], "missing.json: cannot be read"),
    (["--merge", "{bad"], "not JSON"),
    (["--merge", '{"a": 1}'], "not a results file of benchmarks/run.py"),
    (["--merge", "[]"], "not a results file of benchmarks/run.py"),
])
def test_a_bad_argument_is_refused_before_any_fit(run_py, tmp_path, monkeypatch, capsys, argv,
                                                  message):
    monkeypatch.chdir(tmp_path)
    if argv[0] == "--merge" and argv[1] != "missing.json":
        (tmp_path / "bad.json").write_text(argv[1])
        argv = ["--merge", "bad.json"]
    monkeypatch.setattr(run_py, "run_job", lambda *a, **k: pytest.fail("a fit was started"))
    with pytest.raises(SystemExit) as exit_:
        run_py.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "benchmarks").exists()  # no results file written or replaced


def test_a_file_merged_twice_is_refused_and_a_merge_writes_only_when_told(run_py, tmp_path,
                                                                         monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = {"ok": True, "key": "S|nutpie", "workload": "S", "allies": 8, "months": 144,
           "sampler": "nutpie", "draws": 1000, "tune": 1000, "chains": 4, "compile_s": 30.0,
           "sampling_s": 60.0, "latent_ess_bulk": 800.0, "latent_ess_tail": 900.0,
           "params_ess_bulk": 400.0, "params_ess_tail": 400.0, "divergences": 0}
    results = {"machine": {"cpu_model": "test"}, "args": {},
               "results": {"S|nutpie": {"summary": run_py.aggregate([run]), "runs": [run]}}}
    (tmp_path / "S.json").write_text(json.dumps(results))
    with pytest.raises(SystemExit):
        run_py.main(["--merge", "S.json", "./S.json"])
    assert "S.json is given twice" in capsys.readouterr().err
    assert run_py.main(["--merge", "S.json"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S.json"]  # printed, not written
    assert run_py.main(["--merge", "S.json", "--out", "merged.json"]) == 0
    assert json.loads((tmp_path / "merged.json").read_text())["results"]["S|nutpie"]["runs"]


@pytest.mark.parametrize("argv, message", [
    (["--origins", "1"], "argument --origins: expected at least 2, not 1"),
    (["--warm-tune", "0"], "argument --warm-tune: expected at least 1, not 0"),
    (["--draws", "x"], "argument --draws: expected a whole number, not 'x'"),
])
def test_the_warm_start_benchmark_refuses_a_bad_argument_before_any_fit(monkeypatch, capsys,
                                                                         argv, message):
    with _script("warm_start.py") as module:
        monkeypatch.setattr(module, "run", lambda *a, **k: pytest.fail("a fit was started"))
        with pytest.raises(SystemExit) as exit_:
            module.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--tune", "0"], "argument --tune: expected at least 1, not 0"),
    (["--tune", "500", "500"], "--tune: each number once"),
    (["--seeds", "0"], "argument --seeds: expected at least 1, not 0"),
    (["--first-seed", "-1"], "argument --first-seed: expected at least 0, not -1"),
    (["--data", "/nonexistent"], "--data /nonexistent: no observations.csv in it"),
])
def test_the_tuning_benchmark_refuses_a_bad_argument_before_any_fit(monkeypatch, capsys, argv,
                                                                    message):
    with _script("tuning.py") as module:
        monkeypatch.setattr(module, "run", lambda *a, **k: pytest.fail("a fit was started"))
        with pytest.raises(SystemExit) as exit_:
            module.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_tuning_benchmark_pairs_each_setting_with_the_baseline_of_its_seed(capsys):
    """The ratios are of fits with the same seed: seed 2's baseline was slow, so a pairing by
    position or a ratio of medians would not give 0.5 and 0.8."""
    def row(seed, tune, seconds, ess, gate):
        return {"seed": seed, "tune": tune, "sampling_s": seconds, "min_ess_bulk": ess,
                "min_ess_tail": ess, "max_rhat": 1.005, "divergences": 0, "gate": gate,
                "ess_per_s": ess / seconds, "warm_start": False}
    result = {"tunes": [1000, 300], "draws": 1000, "seeds": [1, 2, 3], "rows": [
        row(1, 300, 10.0, 900, True), row(1, 1000, 20.0, 1000, True),
        row(2, 1000, 80.0, 1000, False), row(2, 300, 40.0, 800, True),
        row(3, 1000, 20.0, 1000, True), row(3, 300, 16.0, 1000, False)]}
    with _script("tuning.py") as module:
        module.report(result)
    out = capsys.readouterr().out
    assert "tune   300 sampling time            0.50  (0.50, 0.50, 0.80)" in out
    assert "tune   300 min bulk ESS             0.90  (0.90, 0.80, 1.00)" in out
    assert " 1000       20.0      1000" in out and "2/3" in out


def test_results_are_written_only_when_asked(tmp_path, capsys):
    with _script("results.py") as module:
        module.finish({"rows": [1]}, lambda r: print("rows:", r["rows"]), None)
        assert capsys.readouterr().out == "rows: [1]\n" and not list(tmp_path.iterdir())
        module.finish({"rows": [2]}, lambda r: print("rows:", r["rows"]), str(tmp_path / "r.json"))
    assert capsys.readouterr().out == "rows: [2]\n"
    assert json.loads((tmp_path / "r.json").read_text()) == {"rows": [2]}
