"""The ``forecast`` command line: help, validation, exit codes, and real (tiny) fits end to end.

Tests that sample are marked ``slow``: each compiles the model and samples 2 short chains on a
3-ally × 36-month simulated panel.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

import forecast
from forecast.backtest import COVERAGE
from forecast.cli import app
from forecast.diagnostics import Diagnostics
from forecast.forecasting import oracle_fit
from forecast.manifest import sha256_file
from forecast.monthly import QUICK, NullProgress, RunRequest, run_month
from forecast.runs import FAILED_NAME, STAGING_NAME, Registry

#: A fit that compiles and samples but cannot pass the gate (far too short).
TINY = ["--chains", "2", "--draws", "30", "--tune", "30"]
REPO = Path(__file__).resolve().parent.parent


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _published_state(root: Path) -> dict[str, str]:
    """Every published file and its hash: the registry as a reader sees it."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0].startswith(".")}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def sim():
    return forecast.simulate(n_allies=3, n_months=36, seed=5)


@pytest.fixture()
def data_dir(sim, tmp_path):
    sim.panel.write(tmp_path / "data")
    return tmp_path / "data"


# ---------------------------------------------------------------------- help and basics
@pytest.mark.parametrize("command", [[], ["run"], ["validate"], ["report"], ["list"],
                                     ["scenario"], ["backtest"]])
def test_every_command_has_help(command):
    result = _cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    # a flag takes no value: "--quick <bool>" read as if it did ("--quick true" is an error);
    # click's own --help too
    flags = [line for line in result.output.splitlines() if "<bool>" in line]
    assert not flags, flags


def test_version():
    result = _cli("--version")
    assert result.exit_code == 0 and forecast.__version__ in result.output


def test_python_dash_m_forecast():
    out = subprocess.run([sys.executable, "-m", "forecast", "--help"], capture_output=True,
                         text=True, env=_env(), timeout=300)
    assert out.returncode == 0 and "validate" in out.stdout


# ---------------------------------------------------------------------- validate
def test_validate_prints_coverage(data_dir):
    result = _cli("validate", "--data", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "Coverage" in result.output and "hedging" in result.output
    assert "OK: 3 allies, 6 signals, 36 months" in result.output


def test_validate_says_ok_after_its_warnings(data_dir):
    """The warnings came after "OK": a reader who stopped there missed them."""
    with open(data_dir / "observations.csv", "a", encoding="utf-8") as fh:
        fh.write("A01,1990-01,exercise_tempo,2,typo\n")  # decades before the data
    result = _cli("validate", "--data", str(data_dir))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning:" in text and "OK (1 warning above): 3 allies" in text, text
    assert text.rindex("warning:") < text.index("OK (1 warning above)")


def test_validate_embedded_data():
    result = _cli("validate")
    assert result.exit_code == 0, result.output
    assert "JPN" in result.output and "KOR" in result.output


def test_validate_and_run_say_an_event_logged_twice_without_a_description(tmp_path):
    """Two rows of one date, ally and event type without a description were each counted,
    without a word: a row pasted twice doubles its month's count. Both may be real events,
    so they are counted, and validate and run say which rows."""
    paths = forecast.default_paths()
    data = tmp_path / "data"
    data.mkdir()
    for path in (paths.observations, paths.catalog, paths.events):
        shutil.copy(path, data / path.name)
    n_rows = len(pd.read_csv(data / "events.csv")) + 1  # the header is row 1
    with open(data / "events.csv", "a", encoding="utf-8") as fh:
        fh.write("2025-05-02,KOR,consultation_lapse,,\n" * 2)
    said = (f"events.csv: 1 row repeats an earlier row's date, ally and event type, neither "
            f"with a description: row {n_rows + 2} (as row {n_rows + 1}); each is counted")
    result = _cli("validate", "--data", str(data))
    assert result.exit_code == 0, result.output
    assert f"warning: {data / said}" in " ".join(result.output.split())

    class Said(NullProgress):
        def __init__(self):
            self.warnings = []

        def warning(self, message):
            self.warnings.append(message)

    class Sampling(Exception):
        pass

    def fitter(*args, **kwargs):
        raise Sampling

    progress = Said()
    with pytest.raises(Sampling):
        run_month(RunRequest(data=data, out=tmp_path / "runs"), progress=progress, fitter=fitter)
    assert [w for w in progress.warnings if said in w], progress.warnings


def test_the_headline_trend_and_changes_are_those_of_the_draws(sim):
    """The trend arrow, its probability and the changes against the previous run, on draws
    whose movement is known: A00 rose over the last 3 months in every draw, A01 fell in every
    draw, A02 rose in half of them."""
    from forecast.monthly import TREND_MONTHS, headline

    fit = oracle_fit(sim, n_draws=40)
    post = fit.idata["posterior"].to_dataset()
    cred = post["credibility"].values.copy()  # chain, draw, ally, period
    back = cred[:, :, :, -1 - TREND_MONTHS]
    cred[:, :, 0, -1] = back[:, :, 0] + 0.5
    cred[:, :, 1, -1] = back[:, :, 1] - 0.5
    cred[:, :, 2, -1] = back[:, :, 2] + np.where(np.arange(40) % 2 == 0, 0.5, -0.5)
    post["credibility"] = post["credibility"].copy(data=cred)
    fit = dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}))
    last = str(sim.panel.last_month)
    allies = list(sim.panel.allies)
    now = pd.DataFrame({"ally": allies, "period": last, "horizon": 0,
                        "mean": cred[0, :, :, -1].mean(axis=0), "q05": -9.0, "q95": 9.0})
    within = pd.DataFrame([{"ally": a, "horizon": h, "p_any_within": 0.1 * h + 0.01 * i}
                           for i, a in enumerate(allies) for h in range(1, 13)])
    before = pd.DataFrame({"ally": allies, "period": "2016-11", "credibility": [0.25, 1.0, -1.0],
                           "p_any_3": [0.5, 0.1, 0.2]})
    table = headline(fit, now, within, {"headline": before}).set_index("ally")
    assert table["trend"].tolist() == ["up", "down", "flat"]
    np.testing.assert_allclose(table["p_up"], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(table["credibility_change"],
                               now["mean"].to_numpy() - [0.25, 1.0, -1.0])
    np.testing.assert_allclose(table["p_any_3"], [0.3, 0.31, 0.32])
    np.testing.assert_allclose(table["p_any_3_change"], [0.3 - 0.5, 0.31 - 0.1, 0.32 - 0.2])
    assert (table["previous_period"] == "2016-11").all()
    # how sure this fit is that credibility rose since the previous run's month: A00 rose
    # since TREND_MONTHS back in every draw; the same month (a revision) and a month outside
    # the fit have no such probability
    months = [str(p) for p in post["period"].values]
    since = before.assign(period=[months[-1 - TREND_MONTHS], last, "1990-01"])
    table = headline(fit, now, within, {"headline": since}).set_index("ally")
    np.testing.assert_allclose(table["p_rose"], [1.0, np.nan, np.nan])
    since = before.assign(period=months[-1 - TREND_MONTHS])
    table = headline(fit, now, within, {"headline": since}).set_index("ally")
    np.testing.assert_allclose(table["p_rose"], [1.0, 0.0, 0.5])
    # since the month before: the draws' own comparison there, not the trend's
    rose = (cred[:, :, :, -1] > cred[:, :, :, -2]).mean(axis=(0, 1))
    assert not np.allclose(rose, [1.0, 0.0, 0.5])
    table = headline(fit, now, within, {"headline": before.assign(period=months[-2])})
    np.testing.assert_allclose(table["p_rose"], rose)


def test_the_loaders_notes_take_its_data_warnings_only():
    """The validate stage collects the loader's DataWarnings to print and record them; any
    other warning raised meanwhile is shown as it would be, not swallowed or repeated."""
    import warnings

    from forecast.errors import DataWarning
    from forecast.monthly import _noting

    notes: list[str] = []
    with pytest.warns(FutureWarning, match="pandas says") as shown:
        with _noting(notes):
            for _ in range(2):
                warnings.warn("a doubt", DataWarning)
            warnings.warn("pandas says", FutureWarning)
    assert notes == ["a doubt"]
    assert [str(w.message) for w in shown] == ["pandas says"]


@pytest.mark.parametrize("spec", ["default", "static"])
def test_validate_refuses_a_signal_the_fit_would_refuse(data_dir, spec):
    """Without its rows (an events.csv left behind), validate said OK and ``forecast run``
    failed at the fit: "indicator 'exercise_tempo' has no observations"."""
    obs = data_dir / "observations.csv"
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    frame[frame["signal"] != "exercise_tempo"].to_csv(obs, index=False)
    result = _cli("validate", "--data", str(data_dir), "--spec", spec)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "indicator 'exercise_tempo' has no observations" in said
    assert "Traceback" not in result.output and "OK:" not in result.output
    # the file and what to do: validate named neither
    assert "observations.csv" in said
    assert "or the signal taken out of signals.toml" in said


def test_validate_checks_only_what_the_spec_uses(data_dir):
    """A driver without rows is refused by a spec with drivers, not by one without."""
    obs = data_dir / "observations.csv"
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    frame[frame["signal"] != "consultation_lapse"].to_csv(obs, index=False)
    spec = data_dir.parent / "nodrivers.toml"
    spec.write_text((REPO / "models" / "default.toml").read_text(encoding="utf-8")
                    .replace("drivers = true", "drivers = false"), encoding="utf-8")
    refused = _cli("validate", "--data", str(data_dir))
    assert refused.exit_code == 2, refused.output
    assert "driver 'consultation_lapse' has no observations" in " ".join(refused.output.split())
    fine = _cli("validate", "--data", str(data_dir), "--spec", str(spec))
    assert fine.exit_code == 0, fine.output
    # another of make_design's refusals, whose value is a list: it was a TypeError once the
    # refusals of a signal without rows were said of the files
    spec.write_text((REPO / "models" / "default.toml").read_text(encoding="utf-8")
                    .replace('drift = ["catalog"]', 'drift = ["no_such_signal"]'),
                    encoding="utf-8")
    drift = _cli("validate", "--data", str(data_dir), "--spec", str(spec))
    assert drift.exit_code == 2 and "no_such_signal" in drift.output, drift.output
    assert "Traceback" not in drift.output
    # said of the spec's file and the catalog read, as a file's key (it named neither)
    said = " ".join(drift.output.split())
    assert f"{spec}, key 'drift', value ['no_such_signal']:" in said, said
    assert f"(the catalog read: {data_dir / 'signals.toml'})" in said, said


def _break_row(data_dir: Path, line: int, column: str, value: str) -> None:
    obs = data_dir / "observations.csv"
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value  # line 1 is the header
    frame.to_csv(obs, index=False)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_data_exit_2_names_file_row_and_problem(data_dir, tmp_path, command):
    _break_row(data_dir, 7, "ally", "XXX")
    args = [command, "--data", str(data_dir)]
    if command == "run":
        args += ["--out", str(tmp_path / "runs"), "--quick"]
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    assert "observations.csv, row 7, column 'ally', value 'XXX'" in result.output
    assert "unknown ally" in result.output
    assert "Traceback" not in result.output
    assert _published_state(tmp_path / "runs") == {}


def test_a_mistake_in_many_rows_shows_the_first_few(data_dir):
    """Only the first problem was printed, with "(6 more row(s) with problems; fix this one
    and rerun)": a mistake made in many rows took a rerun per row to see."""
    for line in range(4, 11):
        _break_row(data_dir, line, "value", "x")
    result = _cli("validate", "--data", str(data_dir))
    said = result.output
    assert result.exit_code == 2, said
    assert "observations.csv, row 4, column 'value', value 'x': not a number" in said
    shown = [ln for ln in said.splitlines() if ln.startswith("  also: ")]
    assert [ln.split(",")[0] for ln in shown] == [f"  also: row {n}" for n in (5, 6, 7, 8)]
    assert "(2 more row(s) with problems; fix these and rerun)" in said


def test_bad_data_in_a_real_process_has_no_traceback(data_dir, tmp_path):
    _break_row(data_dir, 4, "value", "-3")
    out = subprocess.run(
        [sys.executable, "-m", "forecast", "run", "--data", str(data_dir), "--out",
         str(tmp_path / "runs"), "--quick"],
        capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 2, out.stderr
    assert "row 4" in out.stderr and "column 'value'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_a_library_error_names_each_option_as_typed():
    """A library error whose parameter has the name of a command's option is said as that
    option, for every option of every command: the names were a hand-kept list, which an
    option added to a command could miss (it held neither --quick nor --force)."""
    from typer.main import get_command

    from forecast.cli import _as_option
    from forecast.errors import InputError

    options = {"chains", "count", "data", "draws", "every", "force", "horizon", "month",
               "origins", "out", "output", "quick", "run", "sampler", "scenario", "scheduler",
               "seed", "spec", "tune"}  # every command's, by hand
    assert options == {o[2:] for c in get_command(app).commands.values() for p in c.params
                       for o in p.opts if o.startswith("--")}
    for name in options:
        said = _as_option(InputError("refused", parameter=name, value="x"))
        assert said == f"option '--{name}', value 'x': refused"
    assert _as_option(InputError("refused", parameter="fit")) == "parameter 'fit': refused"


@pytest.mark.parametrize("args, text", [
    (["--month", "2026-3"], "malformed month"),
    (["--month", "2０26-03"], "malformed month"),  # a full-width digit was a month
    (["--month", "9999-12"], "month out of range: year 9999 is outside 1000 to 2999"),
    # was accepted: a run of 2999-12 fitted and published 973 years of empty months
    (["--month", "2999-12"], "option '--month', value '2999-12': after the current month, "),
    (["--data", "/no/such/dir"], "data directory not found"),
    # an empty value (an unset variable) was the current directory, read without a word
    (["--data", ""], "Invalid value for '--data': an empty path"),
    (["--out", " "], "Invalid value for '--out': an empty path"),
    (["--spec", "nonexistent"], "unknown spec"),
    # said as the option typed, where it was "parameter 'spec'"
    (["--spec", "defualt"], "option '--spec', value 'defualt': unknown spec: expected one of "
     "default, drift, static, unpooled or a path to a .toml spec (did you mean 'default'?)"),
    (["--scenario", "/no/such/scenario.csv"], "scenario file not found"),
    (["--spec", "/no/such/spec.toml"], "spec file not found"),
    (["--spec", "/"], "/: a folder, not a spec file"),  # said "not found", of a folder
    # said "no shipped spec named '.../README.md'" of a file that is there
    (["--spec", str(Path(__file__).resolve().parents[1] / "README.md")],
     "README.md: not a .toml spec file: expected a shipped spec name (default, "),
    (["--seed", "-1"], "--seed"),  # was a traceback after the compile (exit 1)
    # as 0 is refused (typer's box, the range in --help), not by the library in another form
    (["--draws", "2000000"], "Input should be less than or equal to 1000000"),
    (["--chains", "65"], "Input should be less than or equal to 64"),
])
def test_bad_options_exit_2(args, text, data_dir, tmp_path):
    base = ["run", "--out", str(tmp_path / "runs"), "--quick"]
    if "--data" not in args:
        base += ["--data", str(data_dir)]
    result = _cli(*base, *args)
    assert result.exit_code == 2, result.output
    assert text in result.output
    assert "Traceback" not in result.output


def test_a_month_after_the_current_one_is_refused_given_or_read(tmp_path):
    """The current month is a run's month (its first day, UTC); the next is not, given as
    --month or read from the data as their last month (a value dated in the future, which
    validate warns of, was published under that month)."""
    import shutil

    from forecast.monthly import check_not_ahead, current_month

    now = pd.Period("2026-12", "M")
    check_not_ahead("2026-12", today=now)
    with pytest.raises(forecast.InputError, match="value '2027-01': after the current month, "
                       "2026-12 ") as err:
        check_not_ahead("2027-01", today=now)
    assert err.value.parameter == "month"
    data = tmp_path / "data"
    shutil.copytree(Path(__file__).parent / "fixtures", data)
    ahead = str(current_month() + 1)
    with open(data / "observations.csv", "a", encoding="utf-8") as rows:
        rows.write(f"JPN,{ahead},exercise_tempo,3,a mistyped year\n")
    result = _cli("run", "--data", str(data), "--out", str(tmp_path / "runs"), "--quick")
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"the data run to {ahead}, after the current month, {current_month()}" in said, said
    # and it names the value, where it sent the user to `forecast validate` to learn which
    assert (f"a run's month is the data's last: 1 value is dated after {current_month()}: "
            f"JPN exercise_tempo {ahead} (a mistyped period?)") in said, said
    assert not (tmp_path / "runs" / ahead).exists()


def test_an_event_log_end_after_the_current_month_is_said_of_the_catalog():
    """Where no value is dated after the current month but the catalog's ``[event_log] end``
    is, the refusal named the observations file and "a value dated in the future"."""
    from forecast.monthly import check_not_ahead

    now = pd.Period("2026-02", "M")  # the default catalog's log ends in 2026-03
    with pytest.raises(forecast.InputError) as err:
        check_not_ahead("2026-03", today=now, data=Path("observations.csv"),
                        catalog=Path("signals.toml"), panel=forecast.load_default())
    assert (err.value.file, err.value.column, err.value.value) == (
        "signals.toml", "event_log.end", "2026-03")
    assert str(err.value).endswith(
        "the catalog's [event_log] end, 2026-03, is after 2026-02: its months from 2026-03 "
        "count as months without events; expected the last month the log is complete to")
    assert "value dated" not in str(err.value)
    # without the catalog's path (a library call): the log's end is said all the same, of
    # the data, not "a value dated in the future" that a warning never printed named
    with pytest.raises(forecast.InputError) as err:
        check_not_ahead("2026-03", today=now, data=Path("observations.csv"),
                        panel=forecast.load_default())
    assert err.value.file == "observations.csv"
    assert "the catalog's [event_log] end, 2026-03, is after 2026-02" in str(err.value)
    assert "warning above" not in str(err.value)


def test_bad_places_exit_2_before_any_work(data_dir, sim, tmp_path):
    """An output path that cannot be written, a registry that is a file, a run's place taken
    by a directory that is not a run, a malformed month for list: each is exit 2 with its
    message, checked before fitting or forecasting."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a registry")
    scen = tmp_path / "s.csv"
    scen.write_text("ally,period,signal,value\nA00,2016-12,consultation_lapse,1\n")
    cases = [
        (["run", "--data", str(data_dir), "--out", str(a_file), "--quick"],
         "must be a directory"),
        (["list", "--out", str(a_file)], "must be a directory"),
        (["list", "--out", str(tmp_path), "--month", "2026-13"], "malformed month"),
        (["scenario", str(scen), "--out", str(tmp_path), "-o", str(tmp_path / "no" / "x.csv")],
         "--output's directory does not exist"),
        # a file where the folder should be was said not to exist
        (["scenario", str(scen), "--out", str(tmp_path), "-o", str(a_file / "x.csv")],
         f"--output's directory {a_file} is a file, not a directory"),
        # not a run: said first (it was "--output must be a file" of the folder given)
        (["report", str(tmp_path), "-o", str(tmp_path)], "not a run directory"),
    ]
    stray = tmp_path / "reg" / str(sim.panel.last_month)
    stray.mkdir(parents=True)
    (stray / "notes.txt").write_text("not a run")
    cases.append((["run", "--data", str(data_dir), "--out", str(tmp_path / "reg"), "--quick"],
                  "is not a published run"))
    for args, text in cases:
        result = _cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert text in " ".join(result.output.split()) and "Traceback" not in result.output, args
    assert not (tmp_path / "no").exists()
    assert [p.name for p in stray.iterdir()] == ["notes.txt"]


def test_validate_warns_of_a_month_without_data(data_dir, sim):
    later = str(sim.panel.months[-1] + 2)
    plain = _cli("validate", "--data", str(data_dir))
    ahead = _cli("validate", "--data", str(data_dir), "--month", later)
    assert plain.exit_code == ahead.exit_code == 0, ahead.output
    assert "no monthly signal is observed" not in plain.output
    said = " ".join(ahead.output.split())
    assert (f"no monthly signal is observed after {sim.panel.last_month}: the credibility of "
            f"{later} is a forecast") in said
    assert said.count("no monthly signal is observed") == 1  # not the library's too


def test_the_warning_names_what_begins_long_before_the_monthly_data(data_dir, sim):
    """An annual value typed 1899 for 1999 stretched the panel by a century of months, which
    the fit samples, and validate said nothing."""
    year = sim.panel.months[0].year - 100
    with open(data_dir / "observations.csv", "a", encoding="utf-8") as fh:
        fh.write(f"A01,{year},milex_share_gdp,1.5,typo\n")
    result = _cli("validate", "--data", str(data_dir))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    start = sim.panel.months[0]
    gap = 1200 + start.month - 1
    assert (f"warning: the panel begins in {year}-01, {gap} months before the first monthly "
            f"observation ({start}); the months before it come from A01 "
            f"milex_share_gdp {year} (a mistyped period?)") in text


def test_the_warning_names_what_runs_past_the_monthly_data(data_dir, sim):
    """An annual value for a year after the data (2027 typed for 2026) moved the run's month
    to that December with a warning that did not say which row did it."""
    year = sim.panel.months[-1].year + 1
    with open(data_dir / "observations.csv", "a", encoding="utf-8") as fh:
        fh.write(f"A01,{year},milex_share_gdp,1.5,typo\n")
    result = _cli("validate", "--data", str(data_dir))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (f"the months after it come from A01 milex_share_gdp {year} (a mistyped period?): "
            f"correct or remove it, or add the monthly data up to {year}-12") in text
    # it had advised --month of the last month with data, which refuses that very value
    assert "runs the last month with data" not in text
    refused = _cli("validate", "--data", str(data_dir), "--month", sim.panel.last_month)
    assert refused.exit_code == 2 and "observation after the forecast month" in refused.output


@pytest.mark.parametrize("years", [9, -12])
def test_the_warning_names_a_monthly_value_years_away_from_the_rest(data_dir, sim, years):
    """A monthly value typed 2042-03 for 2024-03 (or 2004-03) stretched the panel by years of
    months, which the fit samples, and validate said nothing: the months at either end held
    a monthly signal, the typo itself. (9 years after the simulated data's end is still in
    the past: a value after the current month is refused, as `forecast run` refuses it.)"""
    edge = sim.panel.months[-1] if years > 0 else sim.panel.months[0]
    typo = edge + 12 * years
    with open(data_dir / "observations.csv", "a", encoding="utf-8") as fh:
        fh.write(f"A01,{typo},exercise_tempo,2,typo\n")
    result = _cli("validate", "--data", str(data_dir))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    first, last = (edge + 1, typo - 1) if years > 0 else (typo + 1, edge - 1)
    side = "after" if years > 0 else "before"
    assert (f"warning: no monthly signal is observed in the {12 * abs(years) - 1} months "
            f"{first} to {last}, which the fit samples all the same; {side} them come only "
            f"A01 exercise_tempo {typo} (a mistyped period?)") in text


def test_the_warning_names_a_value_dated_after_the_current_month(data_dir):
    """A year typed one too many (2027-06 for 2026-06) was accepted without a word: a gap of
    under two years warns of nothing, and the grid and the forecast's origin ran to it."""
    clean = _cli("validate", "--data", str(data_dir))
    assert clean.exit_code == 0 and "after the current month" not in clean.output
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).to_period("M")
    with open(data_dir / "observations.csv", "a", encoding="utf-8") as fh:
        fh.write(f"A01,{now + 1},exercise_tempo,2,typo\n")
    result = _cli("validate", "--data", str(data_dir))
    text = " ".join(result.output.split())
    assert (f"warning: 1 value is dated after the current month, {now}: A01 exercise_tempo "
            f"{now + 1} (a mistyped period?); the panel runs to {now + 1}") in text
    # `forecast run` refuses such data (exit 2): validate said OK and exited 0
    assert result.exit_code == 2, result.output
    assert "OK" not in text
    assert (f"the data run to {now + 1}, after the current month, {now} (this machine's "
            "clock, UTC), and a run's month is the data's last: a value dated in the future "
            "(a mistyped period? the warning above names it)") in text
    # with a month given, the value after it is refused as after the run's month
    given = _cli("validate", "--data", str(data_dir), "--month", str(now))
    assert given.exit_code == 2 and "OK" not in given.output
    # an event log's months are counts of the log, not values typed: its end is said instead
    from forecast.monthly import future_values

    said = future_values(forecast.load_default(), today=pd.Period("2026-02", "M"))
    assert said.startswith("the catalog's [event_log] end, 2026-03, is after the current month")
    assert "dated after" not in said


def test_the_warning_names_allies_without_outcome_or_indicator_rows(data_dir, sim):
    """Such an ally was accepted without a word; its forecast is the pooled values' alone."""
    obs = data_dir / "observations.csv"
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    drop = ((frame["ally"] == "A01") & (frame["signal"] == "hedging")) | (
        (frame["ally"] == "A02") & (frame["signal"] != "consultation_lapse"))
    frame[~drop].to_csv(obs, index=False)
    result = _cli("validate", "--data", str(data_dir))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    run = run_month(RunRequest(data=data_dir, out=data_dir.parent / "runs", force=True),
                    fitter=_oracle(sim)).run
    assert run.manifest["data"]["warnings"] == [
        text.split("warning: ")[1].split(" OK (1 warning above):")[0].strip()]
    html = " ".join((run.path / "report.html").read_text(encoding="utf-8").split())
    assert "Data: A01, A02 have no hedging (outcome) rows" in html
    assert ("warning: A01, A02 have no hedging (outcome) rows: no data measure that hedging, so "
            "its forecast rests on the priors and, where the spec pools, on the other allies; "
            "A02 has no indicator rows: only drivers, where there are any, inform that "
            "credibility") in text  # not "only hedging rows": A02 has none


def test_a_data_directory_without_its_event_log_is_named(tmp_path):
    """Without events.csv, validate said "driver 'consultation_lapse' has no observations in
    this panel", naming no file, with a hint that was a Python call."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(Path(__file__).parent / "fixtures", data)
    assert _cli("validate", "--data", str(data)).exit_code == 0
    (data / "events.csv").unlink()
    result = _cli("validate", "--data", str(data))
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert (f"error: {data}, column 'signal', value 'consultation_lapse': signals.toml counts "
            "signal 'consultation_lapse' from an event log (event types consultation_lapse, "
            "unilateral_announcement), but the data directory has no events.csv (or .parquet, "
            ".pq) and the observations have no row of it: expected the event log there") \
        in said, said
    # a log under a name not read was not named (a user's trial: events.xlsx)
    (data / "events.xlsx").write_bytes(b"PK")
    said = " ".join(_cli("validate", "--data", str(data)).output.split())
    assert ("there; found events.xlsx, not read: a CSV (UTF-8) or Parquet file is read under "
            "one of those names") in said, said
    (data / "events.xlsx").unlink()
    (data / "events.csv").mkdir()
    (data / "observations.csv").rename(data / "kept.csv")
    (data / "observations.csv").symlink_to("gone.csv")
    said = " ".join(_cli("validate", "--data", str(data)).output.split())
    assert "found observations.csv (a link to nothing), not read: a CSV (UTF-8)" in said
    (data / "observations.csv").unlink()
    (data / "kept.csv").rename(data / "observations.CSV")  # a CSV, read only in lower case
    said = " ".join(_cli("validate", "--data", str(data)).output.split())
    assert "found observations.CSV (read only as observations.csv: rename it)" in said, said
    (data / "observations.CSV").rename(data / "observations.csv")
    said = " ".join(_cli("validate", "--data", str(data)).output.split())
    assert "there; found events.csv (a folder), not read: a CSV (UTF-8)" in said, said
    (data / "events.csv").rmdir()
    # the catalog there but not readable as one: said what was found, not "no signals.toml"
    (data / "signals.toml").rename(data / "kept.toml")
    for make, seen in ((lambda p: p.mkdir(), "signals.toml (a folder)"),
                       (lambda p: p.symlink_to(p), "signals.toml (a link to nothing)"),
                       (lambda p: (data / "kept.toml").rename(data / "signals.TOML"),
                        "signals.TOML (read only as signals.toml: rename it)")):
        make(data / "signals.toml")
        said = " ".join(_cli("validate", "--data", str(data)).output.split())
        assert f"no catalog: expected signals.toml in the data directory; found {seen}, not " \
            "read: the catalog is read only as signals.toml" in said, said
        if (data / "signals.TOML").exists():
            (data / "signals.TOML").rename(data / "kept.toml")
        elif (data / "signals.toml").is_dir():
            (data / "signals.toml").rmdir()
        else:
            (data / "signals.toml").unlink()
    (data / "kept.toml").rename(data / "signals.toml")
    # a spec without drivers does not use the driver counted from events: no log needed
    static = tmp_path / "no_drivers.toml"
    static.write_text('description = "without drivers"\ndrivers = false\n')
    without = _cli("validate", "--data", str(data), "--spec", str(static))
    assert without.exit_code == 0, without.output


def test_the_warning_names_the_catalogs_outcome():
    """It called every outcome "hedging", whatever the catalog names it."""
    from forecast.monthly import allies_without

    sim = forecast.simulate(n_allies=3, n_months=24, seed=3)
    cat = sim.panel.catalog.to_dict()
    cat["signals"]["autonomy_moves"] = cat["signals"].pop("hedging")
    frame = sim.panel.to_frame().replace({"signal": {"hedging": "autonomy_moves"}})
    frame = frame[(frame["ally"] != "A01") | (frame["signal"] == "autonomy_moves")]
    panel = forecast.load_panel(frame, catalog=forecast.Catalog.from_dict(cat))
    assert allies_without(panel) == ("A01 has no indicator rows: only autonomy_moves rows and "
                                     "drivers, where there are any, inform that credibility")


def test_a_long_hole_in_the_monthly_data_is_not_called_a_typo(data_dir, sim):
    """Years without any monthly value between many on both sides are a hole in the data:
    warned of, but no row is named as a likely typo. A gap of two years exactly is not
    warned of."""
    obs = data_dir / "observations.csv"
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    monthly = frame["period"].str.fullmatch(r"\d{4}-\d{2}")
    months = sim.panel.months
    for hole, says in ((24, None), (25, f"the 25 months {months[6]} to {months[30]}")):
        inside = frame["period"].isin([str(m) for m in months[6:6 + hole]])
        frame[~(monthly & inside)].to_csv(obs, index=False)
        text = " ".join(_cli("validate", "--data", str(data_dir)).output.split())
        if says is None:
            assert "no monthly signal is observed in" not in text
        else:
            assert (f"warning: no monthly signal is observed in {says}, which the fit samples "
                    "all the same") in text
            assert "mistyped" not in text


def test_month_before_the_data_end_is_exit_2(data_dir, sim, tmp_path):
    month = str(sim.panel.months[-3])
    result = _cli("run", "--data", str(data_dir), "--out", str(tmp_path), "--month", month)
    assert result.exit_code == 2
    assert "after the forecast month" in result.output


def test_list_empty_and_scenario_without_runs(tmp_path, data_dir):
    result = _cli("list", "--out", str(tmp_path))
    assert result.exit_code == 0 and "no published runs" in result.output
    scen = tmp_path / "s.csv"
    scen.write_text("ally,period,signal,value\nA00,2016-12,consultation_lapse,1\n")
    result = _cli("scenario", str(scen), "--out", str(tmp_path))
    assert result.exit_code == 2 and "no published run" in result.output


# ---------------------------------------------------------------------- the pipeline, no sampling
def _oracle(sim):
    def fitter(panel, spec, **kwargs):
        return oracle_fit(dataclasses.replace(sim, panel=panel), n_draws=100)
    return fitter


def test_a_bad_scenario_or_horizon_is_found_before_the_fit(sim, data_dir, tmp_path):
    """Every check a scenario row can fail (ally, signal role, forecast window, value) and
    the horizon are checked in the validate stage, not after minutes of sampling."""
    def no_fit(*args, **kwargs):
        raise AssertionError("the fit began")

    origin = pd.Period(sim.panel.last_month, "M")
    rows = {
        "unknown ally": f"XXX,{origin + 1},consultation_lapse,1",
        "only driver signals": f"A00,{origin + 1},exercise_tempo,1",
        "outside the forecast": f"A00,{origin + 40},consultation_lapse,1",
        "non-negative integer": f"A00,{origin + 1},consultation_lapse,0.5",
    }
    for message, row in rows.items():
        path = tmp_path / "s.csv"
        path.write_text(f"ally,period,signal,value\n{row}\n")
        with pytest.raises(forecast.InputError, match=message) as err:
            run_month(RunRequest(data=data_dir, out=tmp_path / "runs", scenario=path),
                      fitter=no_fit)
        assert err.value.row == 2
    for horizon in (0, 61, 2.5):
        with pytest.raises(forecast.InputError, match="horizon"):
            run_month(RunRequest(data=data_dir, out=tmp_path / "runs", horizon=horizon),
                      fitter=no_fit)
    with pytest.raises(forecast.InputError, match="unknown sampler"):  # staged before
        run_month(RunRequest(data=data_dir, out=tmp_path / "runs", sampler="gibbs"),
                  fitter=no_fit)
    assert not (tmp_path / "runs").exists() or not Registry(tmp_path / "runs").runs()


def test_pipeline_gate_refuses_without_force(sim, data_dir, tmp_path):
    runs = tmp_path / "runs"
    out = run_month(RunRequest(data=data_dir, out=runs), fitter=_oracle(sim))
    assert out.status == "not_converged" and out.exit_code == 3
    assert Registry(runs).runs() == []
    assert list((runs / STAGING_NAME).iterdir()) == []
    kept = list((runs / FAILED_NAME).iterdir())  # the refused run's evidence is kept aside
    assert len(kept) == 1 and str(kept[0]) in out.message
    listing = _cli("list", "--out", str(runs))
    assert listing.exit_code == 0
    assert f"no published runs in {runs}; 1 refused run(s) kept in {runs / FAILED_NAME}" in \
        " ".join(listing.output.split())
    month = kept[0].name[:7]
    other = _cli("list", "--out", str(runs), "--month", "2001-01").output
    assert "refused" not in other  # another month's refused run is not this month's
    assert "1 refused run(s)" in _cli("list", "--out", str(runs), "--month", month).output
    # a mistyped registry, or a run's own folder, is no empty registry
    (kept[0] / "manifest.json").write_text("{}")
    for where, says in ((runs.parent / "rnus", "no such registry directory"),
                        (kept[0], "this is a run's own directory, not a registry")):
        result = _cli("list", "--out", str(where))
        assert result.exit_code == 2 and says in " ".join(result.output.split()), result.output
    assert json.loads((kept[0] / "diagnostics.json").read_text())["converged"] is False
    assert "NOT converged" in (kept[0] / "run.log").read_text()


def test_list_says_how_many_months_each_run_forecasts(sim, data_dir, tmp_path):
    """Runs of one month told apart by their horizon alone (``--horizon``) were listed alike."""
    runs = tmp_path / "runs"
    for horizon in (3, 12):
        out = run_month(RunRequest(data=data_dir, out=runs, force=True, horizon=horizon),
                        fitter=_oracle(sim))
        assert out.status == "published"
    listing = _cli("list", "--out", str(runs))
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    header = next(line for line in lines if "┃ run " in line).split("┃")
    assert "✓: the latest revision of its month" in listing.output
    column = next(i for i, cell in enumerate(header) if cell.strip() == "months ahead")
    ahead = {cells[1].split()[0]: cells[column].strip()
             for cells in (line.split("│") for line in lines)
             if len(cells) == len(header) and cells[1].strip().startswith(sim.panel.last_month)}
    assert ahead == {sim.panel.last_month: "3", f"{sim.panel.last_month}-r2": "12"}, \
        listing.output
    assert "scenario" not in header[-2], listing.output  # said only where a run has one
    # a run made with --scenario was listed as the month's latest like a data revision (a
    # user's trial): the scenario's name is in a column of its own
    what_if = tmp_path / "lapse.csv"
    what_if.write_text("ally,period,signal,value\n"
                       f"A00,{pd.Period(sim.panel.last_month, 'M') + 1},consultation_lapse,2\n")
    out = run_month(RunRequest(data=data_dir, out=runs, force=True, scenario=what_if),
                    fitter=_oracle(sim))
    assert out.status == "published", out.message
    lines = _cli("list", "--out", str(runs)).output.splitlines()
    header = [cell.strip() for cell in next(line for line in lines if "┃ run " in line)
              .split("┃")]
    column = header.index("scenario")
    named = {cells[1].split()[0]: cells[column].strip()
             for cells in (line.split("│") for line in lines) if len(cells) == len(header)
             and cells[1].strip().startswith(sim.panel.last_month)}
    assert named == {sim.panel.last_month: "", f"{sim.panel.last_month}-r2": "",
                     f"{sim.panel.last_month}-r3": "lapse"}, "\n".join(lines)


def test_pipeline_identical_noop_and_new_revision(sim, data_dir, tmp_path, monkeypatch):
    fitter = _oracle(sim)
    runs = tmp_path / "runs"
    req = RunRequest(data=data_dir, out=runs, force=True)
    first = run_month(req, fitter=fitter)
    assert first.status == "published" and first.run.name == sim.panel.last_month
    m = first.run.manifest
    assert m["forced"] is True and m["converged"] is False and m["revision"] == 1
    assert m["inputs"]["observations"]["sha256"] == sha256_file(data_dir / "observations.csv")
    assert set(m["inputs"]) == {"observations", "catalog", "spec"}
    assert m["settings"]["seed"] == int(sim.panel.last_month.replace("-", ""))
    assert "numpy" in m["environment"]["dependencies"]
    assert all(sha256_file(first.run.path / f) == h for f, h in m["outputs"].items())

    state = _published_state(runs)
    # --out naming the run itself, not its registry: refused before anything is written there
    with pytest.raises(forecast.InputError, match="run's own directory, not a registry"):
        run_month(dataclasses.replace(req, out=first.run.path), fitter=fitter)
    assert _published_state(runs) == state and not (first.run.path / ".staging").exists()
    again = run_month(req, fitter=fitter)
    assert again.status == "unchanged" and again.exit_code == 0
    assert "nothing to do" in again.message
    # the no-op points at a forced run: said, or a rerun without --force hid it behind exit 0
    assert "(FORCED: not converged)" in again.message
    assert _published_state(runs) == state

    _break_row(data_dir, 3, "source", "corrected source")  # one byte of input changes
    third = run_month(req, fitter=fitter)
    assert third.status == "published" and third.run.name == f"{sim.panel.last_month}-r2"
    assert third.run.manifest["revision"] == 2
    assert all(_published_state(runs)[k] == v for k, v in state.items())  # r1 untouched
    # another nutpie may draw otherwise from the same inputs: refitted, not "nothing to do"
    import forecast.monthly as monthly

    versions = {**monthly.computing_versions(), "nutpie": "99.0"}
    monkeypatch.setattr(monthly, "computing_versions", lambda sampler: versions)
    upgraded = run_month(req, fitter=fitter)
    assert upgraded.status == "published" and upgraded.run.name.endswith("-r3")
    monkeypatch.undo()

    listing = _cli("list", "--out", str(runs))
    assert listing.exit_code == 0
    assert f"{sim.panel.last_month}-r2" in listing.output and "FORCED" in listing.output
    # a month without runs is not said as an empty registry
    none = _cli("list", "--out", str(runs), "--month", "1999-01")
    assert none.exit_code == 0 and (f"no published runs of 1999-01 in {runs} (3 runs of other "
                                    "months: leave out --month to list them)") in " ".join(
                                        none.output.split())

    scen = tmp_path / "lapse.csv"
    scen.write_text(f"ally,period,signal,value\nA00,{sim.panel.last_month},consultation_lapse,3\n")
    result = _cli("scenario", str(scen), "--out", str(runs), "--horizon", "3",
                  "--output", str(tmp_path / "s.csv"))
    assert result.exit_code == 0, result.output
    assert "P(hedging) base → scenario" in result.output
    assert "not moved by the scenario (every change 0, not shown): A01, A02" in result.output
    # what the baseline had there: in the run's month, the observed value
    seen = sim.panel.to_frame().query(f"ally == 'A00' and signal == 'consultation_lapse' and "
                                      f"period == '{sim.panel.last_month}'")["value"].item()
    assert (f"A00 consultation_lapse {sim.panel.last_month}: {seen:.2f} (observed) → 3.00"
            in " ".join(result.output.split()))
    compared = pd.read_csv(tmp_path / "s.csv")
    assert compared.loc[compared["ally"] == "A00", "p_any_change"].abs().max() > 0
    assert "not the run's own forecast" not in result.output  # its seed and horizon: the same
    # a manifest whose seed was edited (nothing hashes the manifest itself): said
    newest = Registry(runs).runs()[-1]
    manifest = json.loads((newest.path / "manifest.json").read_text())
    manifest["settings"]["seed"] += 1
    (newest.path / "manifest.json").write_text(json.dumps(manifest))
    edited = _cli("scenario", str(scen), "--run", str(newest.path), "--horizon", "3")
    assert edited.exit_code == 0, edited.output
    assert "warning: the baseline is not the run's own forecast: P(hedging) differs from its " \
        "forecast.csv by up to" in " ".join(edited.output.split())
    with_seed = _cli("scenario", str(scen), "--run", str(newest.path), "--seed", "5")
    assert "note: --seed 5, not the run's seed: the baseline is drawn anew" in \
        " ".join(with_seed.output.split())
    # a run whose forecast.csv is gone (list says MISSING): it was used without a word
    (newest.path / "forecast.csv").unlink()
    gone = _cli("scenario", str(scen), "--run", str(newest.path), "--horizon", "3")
    assert gone.exit_code == 0, gone.output
    assert "warning: the run's forecast.csv is MISSING (its manifest lists it among the run's " \
        "outputs)" in " ".join(gone.output.split())


def _gated(sim, rhat_by_draws: dict[int, float], divergences: int = 0,
           same_chains: bool = True):
    """A fitter whose diagnostics read as a fit with these R-hats by draws per chain, every ESS
    above the gate and E-BFMI 0.9; it records how it was called.

    Its draws are the truth plus noise: a stream of the seed alone (so more draws from the same
    seed begin with the fewer draws, as nutpie's do), or, with ``same_chains=False``, a stream
    of the seed and the number of draws. It holds one draw for every ten asked for.
    """
    calls: list[dict] = []

    def fitter(panel, spec, **kwargs):
        calls.append(kwargs)
        n = kwargs["draws"] // 10
        fit = oracle_fit(dataclasses.replace(sim, panel=panel), n_draws=n)
        post = fit.idata["posterior"].to_dataset()
        rng = np.random.default_rng([kwargs["seed"]] + ([] if same_chains else [n]))
        post["credibility"] = post["credibility"] + rng.normal(size=post["credibility"].shape)
        diag = Diagnostics(rhat_by_draws[kwargs["draws"]], 900.0, 800.0, divergences, 0.9,
                           kwargs["chains"] * kwargs["draws"])
        return dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}),
                                   _diagnostics=diag)

    fitter.calls = calls
    return fitter


def test_rhat_only_refusal_runs_the_same_chains_on(sim, data_dir, tmp_path):
    fitter = _gated(sim, {1000: 1.0123, 2000: 1.0062})
    out = run_month(RunRequest(data=data_dir, out=tmp_path), fitter=fitter)
    assert out.status == "published" and out.exit_code == 0
    assert [c["draws"] for c in fitter.calls] == [1000, 2000]
    assert len({c["seed"] for c in fitter.calls}) == 1  # the same chains: the same seed
    assert {c["chains"] for c in fitter.calls} == {4} and {c["tune"] for c in fitter.calls} == {1000}
    assert "chains run on to 2000 draws after R-hat 1.0123 > 1.01 at 1000" in out.message
    m = out.run.manifest
    assert m["converged"] is True and m["forced"] is False
    assert m["settings"]["draws"] == 1000  # what was asked: the input key is unchanged
    assert m["run_on"]["first_draws"] == 1000 and m["run_on"]["draws"] == 2000
    assert m["run_on"]["first_failures"] == ["R-hat 1.0123 > 1.01"]
    assert m["run_on"]["first_diagnostics"]["max_rhat"] == 1.0123
    assert m["run_on"]["same_chains"] is True
    assert forecast.load_fit(out.run.path / "posterior.nc").posterior.sizes["draw"] == 200
    diag = json.loads((out.run.path / "diagnostics.json").read_text())
    assert diag["max_rhat"] == 1.0062 and diag["converged"] is True
    assert diag["run_on"] == m["run_on"]
    report = (out.run.path / "report.html").read_text()
    assert "× 2000 draws (run on from\n  1000; 1000 tuning)" in report
    assert "passed after the chains ran on to\n  2000 draws" in report
    assert "failed on R-hat alone" in report and "The same chains were run on" in report
    log = (out.run.path / "run.log").read_text()
    assert "running the same 4 chains on to 2000 draws" in log
    assert "fit_longer started" in log
    listing = _cli("list", "--out", str(tmp_path))
    assert "4×1000 → 2000 (run on)" in listing.output

    again = run_month(RunRequest(data=data_dir, out=tmp_path), fitter=fitter)
    assert again.status == "unchanged" and len(fitter.calls) == 2  # same inputs: no refit


def test_a_longer_fit_that_is_not_the_same_chains_says_so(sim, data_dir, tmp_path):
    fitter = _gated(sim, {1000: 1.02, 2000: 1.0062}, same_chains=False)  # at the bound: runs on
    out = run_month(RunRequest(data=data_dir, out=tmp_path), fitter=fitter)
    assert out.status == "published" and len(fitter.calls) == 2
    assert out.run.manifest["run_on"]["same_chains"] is False
    report = (out.run.path / "report.html").read_text()
    assert "fit was run again from the same seed" in report
    assert "The same chains were run on" not in report
    # the command's last line and the log said "chains run on" all the same
    assert "refitted with new chains to 2000 draws" in out.message
    assert "chains run on" not in out.message
    assert "ran on: new chains" in (out.run.path / "run.log").read_text()


def test_a_run_the_gate_refuses_whatever_it_draws_is_refused_before_the_fit(sim, data_dir,
                                                                          tmp_path):
    """--sampler advi or --chains 1 without --force fitted (ADVI's 30 000 steps), then exited
    3 advising more --draws/--tune, which cannot help; a seed past 2**64 - 1 passed every check
    and failed inside nutpie after the compile (a traceback)."""
    fitter = _gated(sim, {1000: 1.001})
    force = ("expected --force", "or --force")  # what the gate would refuse: --force, said
    for request, parameter, says in (
            (RunRequest(data=data_dir, out=tmp_path, sampler="advi"), "sampler", force),
            (RunRequest(data=data_dir, out=tmp_path, chains=1), "chains", force),
            (RunRequest(data=data_dir, out=tmp_path, seed=2**64), "seed", ("seed",)),
            # past nutpie's integers: its traceback after minutes of compile (the command
            # line's typer refuses these first)
            (RunRequest(data=data_dir, out=tmp_path, draws=10**23), "draws",
             ("draws must be an integer from 1 to",)),
            (RunRequest(data=data_dir, out=tmp_path, chains=10**4), "chains",
             ("chains must be an integer from 1 to",))):
        with pytest.raises(forecast.InputError) as err:
            run_month(request, fitter=fitter)
        assert err.value.parameter == parameter, str(err.value)
        assert any(s in str(err.value) for s in says), str(err.value)
    assert fitter.calls == [] and Registry(tmp_path).runs() == []
    one = run_month(RunRequest(data=data_dir, out=tmp_path, chains=1, force=True),
                    fitter=fitter)
    assert one.status == "published" and len(fitter.calls) == 1
    assert run_month(RunRequest(data=data_dir, out=tmp_path / "s", seed=2**64 - 1),
                     fitter=fitter).status == "published"


def test_quick_with_sizes_of_its_own_is_custom(sim, data_dir, tmp_path):
    """--quick --draws 1000 was labelled quick: the smoke test's banner, never run on, never
    a baseline; the docs say such a run is custom."""
    assert RunRequest(quick=True, draws=500).sampler_settings() == (
        {"draws": 500, "tune": QUICK["tune"], "chains": QUICK["chains"]}, "custom")
    assert RunRequest(quick=True).sampler_settings()[1] == "quick"
    assert RunRequest(quick=True, draws=1000, tune=1000, chains=4).sampler_settings()[1] == \
        "default"
    fitter = _gated(sim, {300: 1.015, 600: 1.004})
    out = run_month(RunRequest(data=data_dir, out=tmp_path, quick=True, draws=300),
                    fitter=fitter)
    assert out.status == "published" and [c["draws"] for c in fitter.calls] == [300, 600]
    assert out.run.manifest["settings"]["preset"] == "custom"
    assert out.run.manifest["quick"] is False


def test_run_on_that_still_fails_is_refused_or_forced(sim, data_dir, tmp_path):
    fitter = _gated(sim, {1000: 1.0123, 2000: 1.0104})
    out = run_month(RunRequest(data=data_dir, out=tmp_path), fitter=fitter)
    assert out.status == "not_converged" and out.exit_code == 3
    assert [c["draws"] for c in fitter.calls] == [1000, 2000]
    assert "did not converge after its chains ran on to 2000 draws (R-hat 1.0104" in out.message
    assert Registry(tmp_path).runs() == []
    kept = json.loads(next((tmp_path / FAILED_NAME).glob("*/diagnostics.json")).read_text())
    assert kept["max_rhat"] == 1.0104 and kept["run_on"]["first_failures"] == [
        "R-hat 1.0123 > 1.01"]

    forced = run_month(RunRequest(data=data_dir, out=tmp_path, force=True), fitter=fitter)
    assert forced.status == "published" and len(fitter.calls) == 4
    m = forced.run.manifest
    assert m["forced"] is True and m["gate_failures"] == ["R-hat 1.0104 > 1.01"]
    assert m["run_on"]["draws"] == 2000  # what is published is the longer fit
    assert forecast.load_fit(forced.run.path / "posterior.nc").posterior.sizes["draw"] == 200


@pytest.mark.parametrize("rhat, divergences, quick, sampler", [
    (1.0201, 0, False, "nutpie"),  # above the bound: a chain elsewhere, not the gate's chance
    (1.012, 1, False, "nutpie"),   # a divergence too: more draws do not answer it
    (1.012, 0, True, "nutpie"),    # a quick smoke test is never run on
    (1.012, 0, False, "pymc"),     # its longer fit need not begin with the first one's draws
])
def test_no_run_on_unless_rhat_alone_fails_near_the_threshold(sim, data_dir, tmp_path, rhat,
                                                              divergences, quick, sampler):
    draws = QUICK["draws"] if quick else 1000
    fitter = _gated(sim, {draws: rhat}, divergences=divergences)
    out = run_month(RunRequest(data=data_dir, out=tmp_path, quick=quick, sampler=sampler),
                    fitter=fitter)
    assert out.status == "not_converged" and len(fitter.calls) == 1
    assert "ran on" not in out.message
    # a quick run's remedy is --force or the default preset, not more draws (a user's trial:
    # the first smoke test was refused with advice to raise --draws)
    assert ("A --quick run is a smoke test of too few draws to pass the gate: rerun with "
            "--force" in out.message) == quick, out.message
    assert ("Rerun with more --draws/--tune" in out.message) != quick, out.message


def test_a_baseline_made_otherwise_is_named_as_such(sim, data_dir, tmp_path):
    """Last month's only run, fitted with another spec, was compared with as if it were
    like this one: the change then mixes a change of model with the change of data."""
    out = tmp_path / "runs"
    earlier = tmp_path / "earlier"
    sim.panel.truncate(str(sim.panel.months[-2])).write(earlier)
    run_month(RunRequest(data=earlier, out=out, force=True, spec="static"), fitter=_oracle(sim))
    now = run_month(RunRequest(data=data_dir, out=out, force=True), fitter=_oracle(sim))
    m = now.run.manifest
    assert m["previous_run_caveats"] == ["FORCED: not converged", "spec static, not default"]
    assert "spec static, not default: a poor baseline" in (now.run.path / "report.html").read_text()


def test_a_baseline_months_back_says_how_far_and_is_not_called_poor(sim, data_dir, tmp_path):
    """A change since a run two months back read as a change since last month; said as a
    caveat, it made a sound baseline "a poor baseline"."""
    out = tmp_path / "runs"
    earlier = tmp_path / "earlier"
    sim.panel.truncate(str(sim.panel.months[-3])).write(earlier)
    fitter = _gated(sim, {1000: 1.001})  # a converged baseline: nothing else makes it poor
    run_month(RunRequest(data=earlier, out=out), fitter=fitter)
    now = run_month(RunRequest(data=data_dir, out=out), fitter=fitter)
    m = now.run.manifest
    assert m["previous_run"] == str(sim.panel.months[-3])
    assert m["previous_run_gap"] == (f"a change over 2 months, from {sim.panel.months[-3]}: "
                                     "no run in between")
    assert m["previous_run_caveats"] == []
    html = (now.run.path / "report.html").read_text()
    assert "a change over 2 months" in html
    assert "a poor baseline" not in html


@pytest.mark.parametrize("damage, caveat", [
    # and its headline has no p_any_3: the headline's change in it is blank too, which the
    # caveat did not say
    ("horizon 2", ("its forecast.csv cannot be compared with (column 'horizon': no row at "
                   "horizon 3 (its horizons: 1, 2)): no previous probability in the early "
                   "warnings", "its headline.csv has no p_any_3 (a horizon under 3 months): "
                   "no change in the probability of hedging within 3 months")),
    ("credibility n/a", "its headline.csv cannot be compared with (row 2, column "
                        "'credibility', value 'n/a': expected a finite number): no change in "
                        "credibility or in p_any_3"),
    ("no credibility", "its headline.csv cannot be compared with (column 'credibility': no "
                       "column 'credibility'): no change in credibility or in p_any_3"),
    ("blank period", "its headline.csv cannot be compared with (row 2, column 'period', value "
                     "nan: expected a month YYYY-MM): no change in credibility or in p_any_3"),
    ("two rows", "its headline.csv cannot be compared with (row 3, column 'ally', value 'A00': "
                 "a second row of this ally): no change in credibility or in p_any_3"),
    # inf read as a number made int() raise OverflowError: a traceback in every later run
    ("horizon inf", "its forecast.csv cannot be compared with (column 'horizon': no row at "
                    "horizon 3 (its horizons: 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12)): no "
                    "previous probability in the early warnings"),
    # a number edited by hand, sound to read: the change since was computed from it
    ("edited", "its headline.csv cannot be compared with (not as that run wrote it: the "
               "SHA-256 its manifest records differs, or it records none): no change in "
               "credibility or in p_any_3"),
])
def test_a_baseline_table_that_cannot_be_compared_with_is_a_caveat(sim, data_dir, tmp_path,
                                                                   damage, caveat):
    """A baseline published with --horizon 2 (no row at 3 months), or whose headline.csv was
    damaged, stopped every later month's run after the fit: an InputError naming the
    parameter 'within', which no one had set, or a raw ValueError / KeyError."""
    from html import unescape

    out = tmp_path / "runs"
    earlier = tmp_path / "earlier"
    sim.panel.truncate(str(sim.panel.months[-2])).write(earlier)
    fitter = _gated(sim, {1000: 1.001})
    first = run_month(RunRequest(data=earlier, out=out, horizon=2 if damage == "horizon 2"
                                 else 12), fitter=fitter).run
    head = pd.read_csv(first.path / "headline.csv", dtype=str)
    if damage == "credibility n/a":
        head.loc[0, "credibility"] = "n/a"
    elif damage == "no credibility":
        head = head.drop(columns="credibility")
    elif damage == "blank period":
        head.loc[0, "period"] = None
    elif damage == "two rows":
        head.loc[1, "ally"] = head.loc[0, "ally"]
    elif damage == "horizon inf":
        table = pd.read_csv(first.path / "forecast.csv", dtype=str)
        table.loc[table["horizon"] == "3", "horizon"] = "inf"
        table.to_csv(first.path / "forecast.csv", index=False)
    elif damage == "edited":
        head.loc[0, "credibility"] = "2.5"
    head.to_csv(first.path / "headline.csv", index=False)
    if damage != "edited":  # as if the run had written them so
        manifest = json.loads((first.path / "manifest.json").read_text())
        manifest["outputs"] = {name: sha256_file(first.path / name)
                               for name in manifest["outputs"]}
        (first.path / "manifest.json").write_text(json.dumps(manifest))
    now = run_month(RunRequest(data=data_dir, out=out), fitter=fitter)
    assert now.status == "published", now.message
    caveats = list(caveat) if isinstance(caveat, tuple) else [caveat]
    assert now.run.manifest["previous_run_caveats"] == caveats
    html = " ".join((now.run.path / "report.html").read_text().split())
    assert f"{', '.join(caveats)}: a poor baseline" in unescape(html)
    warned = pd.read_csv(now.run.path / "early_warnings.csv")
    headline = pd.read_csv(now.run.path / "headline.csv")
    if damage in ("horizon 2", "horizon inf"):  # the headline is still compared with
        assert warned["previous"].isna().all()
        assert headline["credibility_change"].notna().all()
        if damage == "horizon 2":
            assert headline["p_any_3_change"].isna().all()  # the baseline has no p_any_3
            # its own report said neither its horizon nor why two probabilities were "–"
            short = unescape(" ".join((first.path / "report.html").read_text().split()))
            assert "horizon 2 months" in short
            assert ("This run forecast 2 months ahead: P(hedging ≤ 3 mo) and P(hedging ≤ 12 "
                    "mo) are beyond it") in short
            assert "horizon 12 months" in html and "beyond it" not in html
    else:  # the early warnings are still compared with
        assert warned["previous"].notna().all()
        assert headline["credibility_change"].isna().all()


def test_a_short_baseline_is_a_caveat_only_for_a_run_that_could_compare(tmp_path):
    """Both runs published with --horizon 2: the baseline was blamed for lacking a p_any_3
    that the run itself has not either."""
    from forecast.monthly import read_previous
    from forecast.runs import PublishedRun

    (tmp_path / "headline.csv").write_text("ally,period,credibility,p_any_1,p_any_3\n"
                                           "A00,2026-02,0.1,0.2,\n")
    (tmp_path / "forecast.csv").write_text("ally,horizon,p_any_within\nA00,1,0.2\nA00,2,0.3\n")
    outputs = {name: sha256_file(tmp_path / name) for name in ("headline.csv", "forecast.csv")}
    previous = PublishedRun(tmp_path, "2026-02", 1, {"outputs": outputs})
    assert read_previous(previous, within=2)[1] == []
    caveats = read_previous(previous, within=3)[1]
    assert caveats[-1].startswith("its headline.csv has no p_any_3") and len(caveats) == 2


def test_an_input_saved_while_the_run_reads_it_is_refused(sim, data_dir, tmp_path, monkeypatch):
    """The files were hashed after they were read: an observations file saved in between (a
    spreadsheet's autosave) gave a manifest whose hash was not that of the data fitted."""
    import forecast.monthly as monthly

    read = monthly.load_inputs

    def saved_meanwhile(inputs, *args, **kwargs):
        loaded = read(inputs, *args, **kwargs)
        with open(inputs.observations, "a", encoding="utf-8") as fh:
            fh.write(f"A00,{sim.panel.last_month},exercise_tempo,1,autosave\n")
        return loaded

    monkeypatch.setattr(monthly, "load_inputs", saved_meanwhile)
    with pytest.raises(forecast.InputError, match="the observations file changed while the "
                                                  "run read it") as err:
        run_month(RunRequest(data=data_dir, out=tmp_path / "runs"), fitter=_oracle(sim))
    assert err.value.file == str(data_dir / "observations.csv")
    assert not (tmp_path / "runs").exists()


def test_an_unreadable_input_is_invalid_input(sim, data_dir, tmp_path, monkeypatch):
    """Hashing the inputs before reading them made an unreadable file exit 1 ("the file
    system refused") where the loader says exit 2, naming it."""
    import forecast.monthly as monthly

    def unreadable(files):
        raise PermissionError(13, "Permission denied", str(files["observations"]))

    monkeypatch.setattr(monthly, "fingerprint", unreadable)
    with pytest.raises(forecast.InputError, match="cannot read the file: Permission denied") \
            as err:
        run_month(RunRequest(data=data_dir, out=tmp_path / "runs"), fitter=_oracle(sim))
    assert err.value.file == str(data_dir / "observations.csv")


def test_a_file_where_the_registry_folder_must_be_is_one_line(data_dir, tmp_path):
    """--out under a file: NotADirectoryError from making the staging folder was shown with a
    traceback, as if it were a bug."""
    (tmp_path / "afile").write_text("x")
    result = _cli("run", "--data", str(data_dir), "--out", str(tmp_path / "afile" / "runs"))
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "Not a directory" in said, said
    assert "the file system refused" in said and "Traceback" not in said


def test_a_refusal_that_cannot_be_kept_is_still_a_refusal(sim, data_dir, tmp_path, monkeypatch):
    """A full disk while keeping a refused run's diagnostics aside ended in a traceback,
    exit 1, and the refusal's message was lost."""
    def full(self, staged, names):
        raise OSError(28, "No space left on device", str(self.root / ".failed"))

    monkeypatch.setattr(Registry, "keep_failed", full)
    out = run_month(RunRequest(data=data_dir, out=tmp_path), fitter=_gated(sim, {1000: 1.05}))
    assert out.status == "not_converged" and out.exit_code == 3
    assert "did not converge" in out.message
    assert "could not be kept: [Errno 28] No space left on device" in out.message
    assert Registry(tmp_path).runs() == []


def test_a_file_system_refusal_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    """A read-only or full --out ended in a traceback, as if it were a bug."""
    def refused(self, month=None):
        raise PermissionError(13, "Permission denied", str(self.root / "2026-03"))

    monkeypatch.setattr(Registry, "runs", refused)
    result = _cli("list", "--out", str(tmp_path))
    said = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert f"error: [Errno 13] Permission denied: '{tmp_path / '2026-03'}'" in said
    assert "the file system refused" in said and "Traceback" not in said
    # another OSError is no refusal of the file system: it may be a bug, so its traceback

    def broken(self, month=None):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Registry, "runs", broken)
    result = _cli("list", "--out", str(tmp_path))
    assert result.exit_code == 1 and "Traceback" in result.output, result.output
    assert "the file system refused" not in result.output


def test_a_refused_save_names_the_file_asked_for(tmp_path):
    """``report -o`` on a read-only disk named the hidden name the save writes through first
    (".r.html.fd44d0….partial", a user's trial), not the file the user asked for."""
    import errno

    from forecast.files import write_atomically

    def refused(tmp):  # as os.open gives it: the Path itself
        raise OSError(errno.EROFS, "Read-only file system", tmp)

    target = tmp_path / "r.html"
    with pytest.raises(OSError) as err:
        write_atomically(target, refused, "report")
    assert (err.value.errno, err.value.filename) == (errno.EROFS, str(target))
    assert list(tmp_path.iterdir()) == []  # nothing left under either name

    def other(tmp):  # an error of another file is said as it is
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/elsewhere")

    with pytest.raises(FileNotFoundError, match="/elsewhere"):
        write_atomically(target, other, "report")

    def too_long(tmp):  # the hidden name's own length is no fault of the name asked for
        raise OSError(errno.ENAMETOOLONG, "File name too long", str(tmp))

    with pytest.raises(OSError, match=r"\.partial") as err:
        write_atomically(target, too_long, "report")
    assert err.value.errno == errno.ENAMETOOLONG


# ---------------------------------------------------------------------- real fits
@pytest.mark.slow
def test_not_converged_is_exit_3_and_not_published(data_dir, tmp_path):
    result = _cli("run", "--data", str(data_dir), "--out", str(tmp_path), *TINY)
    assert result.exit_code == 3, result.output
    assert "did not converge" in result.output and "--force" in result.output
    assert Registry(tmp_path).runs() == []


@pytest.mark.slow
def test_run_publishes_reruns_and_revises(sim, data_dir, tmp_path):
    out = tmp_path / "runs"
    args = ["run", "--data", str(data_dir), "--out", str(out), "--force", *TINY]
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    month = sim.panel.last_month
    run_dir = out / month
    assert f"published {run_dir}" in result.output
    for name in ("forecast.csv", "credibility.csv", "posterior.nc", "diagnostics.json",
                 "manifest.json", "report.html", "run.log"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["forced"] is True and manifest["settings"]["preset"] == "custom"
    assert manifest["settings"]["draws"] == 30 and manifest["settings"]["chains"] == 2
    assert manifest["timings"]["fit_s"] > 0
    assert "FORCED PUBLICATION" in (run_dir / "report.html").read_text()
    fit = forecast.load_fit(run_dir / "posterior.nc")
    assert fit.posterior.sizes["draw"] == 30
    # the published posterior keeps the kept draws only: no warm-up draws (half the file)
    assert not any(name.startswith("warmup") for name in fit.idata.children)
    fc = pd.read_csv(run_dir / "forecast.csv")
    assert set(fc["horizon"]) == set(range(1, 13)) and fc["p_any"].between(0, 1).all()

    state = _published_state(out)
    again = _cli(*args)
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert _published_state(out) == state

    _break_row(data_dir, 5, "source", "revised")
    revised = _cli(*args)
    assert revised.exit_code == 0, revised.output
    assert (out / f"{month}-r2" / "report.html").is_file()
    listing = _cli("list", "--out", str(out))
    assert month in listing.output and f"{month}-r2" in listing.output

    scen = tmp_path / "lapse.csv"
    scen.write_text(f"ally,period,signal,value\nA00,{month},consultation_lapse,3\n")
    result = _cli("scenario", str(scen), "--out", str(out), "--output", str(tmp_path / "s.csv"))
    assert result.exit_code == 0, result.output
    assert "p_any_change" in pd.read_csv(tmp_path / "s.csv").columns


def _wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


@pytest.mark.slow
def test_kill_9_mid_sampling_leaves_registry_unchanged(sim, data_dir, tmp_path):
    out = tmp_path / "runs"
    earlier = tmp_path / "earlier"
    sim.panel.truncate(str(sim.panel.months[-2])).write(earlier)
    published = run_month(RunRequest(data=earlier, out=out, force=True), fitter=_oracle(sim))
    assert published.status == "published"
    state = _published_state(out)

    proc = subprocess.Popen(
        [sys.executable, "-m", "forecast", "run", "--data", str(data_dir), "--out", str(out),
         "--chains", "2", "--tune", "200", "--draws", "100000", "--force"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        def fitting() -> bool:
            logs = list((out / STAGING_NAME).glob("*/run.log"))
            return any("fit started" in p.read_text() for p in logs)

        assert _wait_for(fitting, 300), "the run never reached the fit stage"
        base = _threads(proc.pid)
        # sampling has begun when the sampler's chain threads appear (or after a minute)
        _wait_for(lambda: _threads(proc.pid) > base, 60)
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert _published_state(out) == state
    assert [r.name for r in Registry(out).runs()] == [published.run.name]
    # the killed run's staging directory is swept by the next run
    assert Registry(out).clean_stale() != []
    assert list((out / STAGING_NAME).iterdir()) == []


def test_ctrl_c_after_the_rename_reports_the_publication(sim, data_dir, tmp_path, monkeypatch):
    """A Ctrl-C in the moment after the rename (flushing the registry's directory) said
    "interrupted; nothing was published", exit 130, of a published run, and wrote "run
    stopped" into that run's log. Before the rename, it still publishes nothing."""
    import forecast.runs as runs_module

    out = tmp_path / "runs"
    flush = runs_module._fsync_dir

    def interrupted_at(folder):
        def fsync_dir(directory):
            if Path(directory).parent == folder:
                raise KeyboardInterrupt
            flush(directory)
        return fsync_dir

    # in flushing the staged run, before the rename: interrupted, nothing published
    monkeypatch.setattr(runs_module, "_fsync_dir", interrupted_at(out / STAGING_NAME))
    with pytest.raises(KeyboardInterrupt):
        run_month(RunRequest(data=data_dir, out=out, force=True), fitter=_oracle(sim))
    assert Registry(out).runs() == [] and list((out / STAGING_NAME).glob("*/")) == []
    # in flushing the registry, after the rename: published, and said so
    monkeypatch.setattr(runs_module, "_fsync_dir", interrupted_at(out.parent))
    outcome = run_month(RunRequest(data=data_dir, out=out, force=True), fitter=_oracle(sim))
    assert outcome.status == "published" and outcome.exit_code == 0
    assert "interrupted after its publication" in outcome.message
    assert [r.name for r in Registry(out).runs()] == [outcome.run.name]
    log = (outcome.run.path / "run.log").read_text().splitlines()
    assert "publishing as" in log[-1] and "run stopped" not in "".join(log)


@pytest.mark.parametrize("stop, said", [
    (KeyboardInterrupt, "interrupted after its publication"),
    (SystemExit(1), "output closed after its publication"),  # Rich's answer to a broken pipe
])
def test_ctrl_c_while_the_outcome_is_printed_says_the_run_is_published(sim, data_dir, tmp_path,
                                                                     monkeypatch, stop, said):
    """A Ctrl-C (or a SIGTERM while stdout blocks on a full pipe) as ``forecast run`` printed
    its published outcome read "interrupted; nothing was published", exit 130; a reader that
    closed stdout (``forecast run | head -0``) made it exit 1 without a word."""
    import rich.console

    import forecast.cli as cli_module

    real = cli_module.run_month
    monkeypatch.setattr(cli_module, "run_month",
                        lambda request, progress=None: real(request, progress,
                                                            fitter=_oracle(sim)))
    printed = rich.console.Console.print

    def print_until_the_report_line(self, *objects, **kwargs):
        if objects and (str(objects[0]).startswith("report:")
                        or "identical inputs already published" in str(objects[0])):
            raise stop
        return printed(self, *objects, **kwargs)

    monkeypatch.setattr(rich.console.Console, "print", print_until_the_report_line)
    out = tmp_path / "runs"
    result = _cli("run", "--data", str(data_dir), "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert said in result.output
    assert "nothing was published" not in result.output
    assert len(Registry(out).runs()) == 1
    # the same on a rerun of identical inputs: nothing to do is no failure either
    again = _cli("run", "--data", str(data_dir), "--out", str(out), "--force")
    assert again.exit_code == 0, again.output
    assert f"{said.split(' after')[0]}: the month's inputs were already published" in again.output


def test_output_inside_a_run_is_refused(sim, data_dir, tmp_path):
    """``report -o RUN/manifest.json`` replaced a published manifest with HTML, and
    ``scenario -o RUN/forecast.csv`` its forecast, both with exit 0: the run then failed to
    list and to report."""
    out = tmp_path / "runs"
    run = run_month(RunRequest(data=data_dir, out=out, force=True), fitter=_oracle(sim)).run
    state = _published_state(out)
    scen = tmp_path / "s.csv"
    scen.write_text(f"ally,period,signal,value\nA00,{run.month},consultation_lapse,1\n")
    for args in (["report", str(run.path), "-o", str(run.path / "manifest.json")],
                 ["report", str(run.path), "-o", str(run.path / "new.html")],
                 ["scenario", str(scen), "--out", str(out), "-o",
                  str(run.path / "forecast.csv")]):
        result = _cli(*args)
        assert result.exit_code == 2, result.output
        assert "--output is inside the run" in result.output
    assert _published_state(out) == state
    # a file with a run's name in the registry stood where that month's run is published:
    # its publication was then refused as "not a published run"
    result = _cli("scenario", str(scen), "--out", str(out), "-o", str(out / "2026-04"))
    assert result.exit_code == 2, result.output
    assert "--output has a run's name in the registry" in result.output
    assert not (out / "2026-04").exists()
    fresh = tmp_path / "fresh"  # a registry that has only its lock yet
    fresh.mkdir()
    (fresh / ".lock").touch()
    result = _cli("scenario", str(scen), "--run", str(run.path), "-o", str(fresh / "2026-04"))
    assert result.exit_code == 2 and "a run's name in the registry" in result.output, \
        result.output
    # its own report.html, named, is re-rendered as without -o
    again = _cli("report", str(run.path), "-o", str(run.path / "report.html"))
    assert again.exit_code == 0, again.output
    assert _published_state(out).keys() == state.keys()
    # a folder of another program with a manifest.json is no run
    other = tmp_path / "webapp" / "out"
    other.mkdir(parents=True)
    (other.parent / "manifest.json").write_text('{"name": "my app"}')
    result = _cli("report", str(run.path), "-o", str(other / "r.html"))
    assert result.exit_code == 0, result.output
    assert (other / "r.html").is_file()
    # a folder as --output of a run's report
    result = _cli("report", str(run.path), "-o", str(tmp_path))
    assert result.exit_code == 2 and "--output must be a file" in result.output, result.output
    # a run whose manifest was damaged is still a run
    damaged = out / "2001-01"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{trunc")
    result = _cli("report", str(run.path), "-o", str(damaged / "r.html"))
    assert result.exit_code == 2 and "--output is inside the run" in result.output, \
        result.output
    # a folder that is no run is said to be none (it was called "the run" --output was in)
    loose = tmp_path / "loose"
    loose.mkdir()
    result = _cli("report", str(loose), "-o", str(loose / "r.html"))
    assert result.exit_code == 2 and "not a run directory" in result.output, result.output
    assert not (loose / "r.html").exists()


def test_scenario_without_a_readable_run_names_the_damaged_one(tmp_path):
    """With the only run's manifest truncated, ``scenario`` said "no published run" and
    named nothing, while ``list`` warned of the run."""
    (tmp_path / "2026-03").mkdir()
    (tmp_path / "2026-03" / "manifest.json").write_text('{"input_key": "k", "sett')
    scen = tmp_path / "s.csv"
    scen.write_text("ally,period,signal,value\nA00,2026-03,consultation_lapse,1\n")
    result = _cli("scenario", str(scen), "--out", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "no published run" in result.output
    assert "not a readable run:" in result.output and "unreadable JSON" in result.output


def test_a_run_folder_that_cannot_be_searched_is_named(tmp_path, refuse_path):
    """``scenario --run RUN`` with RUN at chmod 000: Path.is_file raised PermissionError,
    reported as "the file system refused" with exit 1, where an unreadable input is exit 2."""
    run = tmp_path / "2026-03"
    run.mkdir()
    scen = tmp_path / "s.csv"
    scen.write_text("ally,period,signal,value\nA00,2026-04,consultation_lapse,1\n")
    refuse_path("is_file", lambda path: path.parent == run)
    result = _cli("scenario", str(scen), "--run", str(run))
    assert result.exit_code == 2, result.output
    assert f"error: {run}: cannot be read (Permission denied)" in " ".join(result.output.split())


def test_list_names_a_run_that_has_lost_a_file(sim, data_dir, tmp_path):
    """With its posterior.nc deleted a run was listed "converged" like a whole one, and
    then refused by report and scenario."""
    out = tmp_path / "runs"
    run = run_month(RunRequest(data=data_dir, out=out, force=True), fitter=_oracle(sim)).run
    assert "MISSING" not in _cli("list", "--out", str(out)).output
    (run.path / "posterior.nc").unlink()
    (run.path / "headline.csv").unlink()
    result = _cli("list", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "MISSING headline.csv, posterior.nc" in " ".join(result.output.split())
    # a hand-edited manifest may list a name the file system cannot look up: one run's name
    # too long for it stopped ``list`` for the whole registry ("the file system refused")
    manifest = json.loads((run.path / "manifest.json").read_text())
    manifest["outputs"]["x" * 300] = "0" * 64
    (run.path / "manifest.json").write_text(json.dumps(manifest))
    result = _cli("list", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "MISSING headline.csv, posterior.nc, " + "x" * 8 in " ".join(result.output.split())


def test_a_run_under_another_runs_name_is_no_run(sim, data_dir, tmp_path):
    """The registry took a run's month and revision from its folder's name: a run restored
    by hand under another name (or a link to another run) became a later month's baseline,
    a change over two months published as since last month with no caveat; ``list`` showed
    it under the name, ``report`` rendered it as the other run. A file or a dead link with a
    run's name, which stops that month's publication, was not named by ``list``."""
    out = tmp_path / "runs"
    earlier, between = tmp_path / "earlier", tmp_path / "between"
    sim.panel.truncate(str(sim.panel.months[-3])).write(earlier)
    before = sim.panel.months[-2]
    sim.panel.truncate(str(before)).write(between)
    fitter = _gated(sim, {1000: 1.001})
    first = run_month(RunRequest(data=earlier, out=out), fitter=fitter).run
    shutil.copytree(first.path, out / f"{before}-r2")
    shutil.copytree(first.path, out / f"{before}")
    (out / "2099-01").symlink_to(first.path.name)
    (out / "2099-02").write_text("notes")
    (out / "2099-03").symlink_to("nowhere")
    listing = _cli("list", "--out", str(out))
    assert listing.exit_code == 0, listing.output
    said = " ".join(listing.output.split())
    assert f"{before}-r2 is not listed: {out / f'{before}-r2' / 'manifest.json'}: the manifest " \
        f"of run {first.name}, not of {before}-r2" in said
    assert f"2099-01 is not listed: {out / '2099-01' / 'manifest.json'}: the manifest of run " \
        f"{first.name}" in said
    for name in ("2099-02", "2099-03"):
        assert f"{name} is not listed: {out / name}: not a folder" in said
    assert [r.name for r in Registry(out).runs()] == [first.name]
    report = _cli("report", str(out / f"{before}-r2"))
    assert report.exit_code == 2 and f"the manifest of run {first.name}" in report.output
    scen = tmp_path / "s.csv"
    scen.write_text(f"ally,period,signal,value\nA00,{before},consultation_lapse,1\n")
    scenario = _cli("scenario", str(scen), "--run", str(out / f"{before}-r2"))
    assert scenario.exit_code == 2 and f"the manifest of run {first.name}" in scenario.output
    # the month whose name the copy took cannot be published there: said why
    with pytest.raises(forecast.InputError, match=f"{before} in the registry is not a published "
                       f"run \\(the manifest of run {first.name}, not of {before}"):
        run_month(RunRequest(data=between, out=out), fitter=fitter)
    shutil.rmtree(out / f"{before}")
    now = run_month(RunRequest(data=data_dir, out=out), fitter=fitter)
    assert now.status == "published", now.message
    assert now.run.manifest["previous_run"] == first.name
    assert now.run.manifest["previous_run_gap"].startswith("a change over 2 months")


@pytest.mark.parametrize("width", [160, 80])
def test_list_never_cuts_a_runs_name(sim, data_dir, tmp_path, monkeypatch, width):
    """A run that had lost its files had a status so long (every lost file named in it)
    that the run's name, the one thing that tells which run, was cut to nothing, off a
    terminal (160 columns) as on an 80-column one; the lost files are now named under the
    table, and the status says how many."""
    from rich.console import Console

    import forecast.cli as cli

    monkeypatch.setattr(cli, "_consoles", lambda: (Console(highlight=False, width=width),
                                                   Console(stderr=True, width=width)))
    out = tmp_path / "runs"
    run = run_month(RunRequest(data=data_dir, out=out, force=True), fitter=_oracle(sim)).run
    gone = sorted(table.name for table in run.path.glob("*.csv"))
    for name in gone:
        (run.path / name).unlink()
    result = _cli("list", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"│ {run.name} " in result.output
    assert f"FORCED (not converged); MISSING {len(gone)} files" in result.output
    assert f"warning: {run.name}: MISSING {', '.join(gone)}" in " ".join(result.output.split())


def test_a_progress_note_shows_quantity_names_as_written():
    """The note of a run continued on was printed as Rich markup: an ally coded "kor" lost
    its "[kor]" from the quantity's name."""
    import io

    from rich.console import Console

    from forecast.cli import RichProgress

    screen = io.StringIO()
    RichProgress(Console(file=screen, width=200), enabled=True).note(
        "R-hat 1.012 at persistence[kor], every other check passed")
    assert "persistence[kor]" in screen.getvalue()


def test_control_characters_from_data_are_shown_not_obeyed(tmp_path):
    """A scenario named with an escape sequence recoloured the terminal."""
    run = tmp_path / "2026-03"
    run.mkdir()
    (run / "posterior.nc").write_text("not a fit")
    scen = tmp_path / "s.toml"
    scen.write_text('name = "red\\u001b[31m alert"\n[[override]]\nally = "A00"\n'
                    'period = "2026-03"\nsignal = "consultation_lapse"\nvalue = 1\n')
    result = _cli("scenario", str(scen), "--run", str(run))
    assert result.exit_code == 2, result.output
    assert "red\\x1b[31m alert" in result.output and "\x1b" not in result.output


def test_ctrl_c_while_the_command_line_loads_exits_130_without_a_traceback(monkeypatch, capsys):
    """The console script's entry point loads typer, rich and pandas itself, so a Ctrl-C in
    that second ends as one during the run does."""
    import builtins

    from forecast.__main__ import main

    real_import = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "forecast.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "interrupted; nothing was published\n"


_STOPPED_RUN = """
import os, signal, sys, time
import typer
import forecast.cli as cli
from forecast.__main__ import main
from forecast.runs import Registry

registry = Registry(sys.argv[1])

def a_run_that_is_stopped():
    def body() -> int:
        with registry.staging("2026-03"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(float(sys.argv[2]))
        return 0
    try:
        cli._guarded(body)
    except typer.Exit as done:  # what typer's app does with it
        raise SystemExit(done.exit_code) from None

cli.main = a_run_that_is_stopped
main()
"""


@pytest.mark.parametrize("ignored", [False, True], ids=["default", "ignored-by-the-parent"])
def test_sigterm_unwinds_as_ctrl_c_does_and_exits_143(tmp_path, ignored):
    """SIGTERM (``timeout``, systemd, schedulers) killed the process at once: rc -15, no word,
    and the run's staging directory left for the next run to sweep. A parent that ignores
    SIGTERM on purpose keeps it ignored. (In a child process: a handler that regressed
    would otherwise end pytest itself.)"""
    def ignore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    done = subprocess.run([sys.executable, "-c", _STOPPED_RUN, str(tmp_path),
                           "1" if ignored else "60"], capture_output=True, text=True,
                          timeout=120, env=_env(), preexec_fn=ignore if ignored else None)
    if ignored:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 143, done.stderr
        assert "interrupted; nothing was published" in done.stderr
    assert list((tmp_path / STAGING_NAME).iterdir()) == []  # removed on the way out


def test_the_console_script_is_the_guarded_entry_point():
    """pyproject's script must name the entry point that catches a Ctrl-C while loading."""
    import tomllib

    with open(Path(__file__).parents[1] / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts == {"forecast": "forecast.__main__:main"}


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
def test_ctrl_c_mid_sampling_publishes_nothing(data_dir, tmp_path, sig, code):
    """nutpie returns a partial posterior on Ctrl-C; the run must stop, not publish it. A
    SIGTERM ends the same way (it had killed the process, leaving its staging directory)."""
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "forecast", "run", "--data", str(data_dir), "--out", str(out),
         "--chains", "2", "--tune", "200", "--draws", "100000", "--force"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        # a shell without job control starts a background job (`pytest ... &`, nohup) with
        # SIGINT ignored, and Python then installs no Ctrl-C handler: the run, as it should,
        # ignored the signal and sampled on. A terminal's Ctrl-C reaches a default handler.
        preexec_fn=_default_sigint)
    try:
        def fitting() -> bool:
            logs = list((out / STAGING_NAME).glob("*/run.log"))
            return any("fit started" in p.read_text() for p in logs)

        assert _wait_for(fitting, 300), "the run never reached the fit stage"
        base = _threads(proc.pid)
        assert _wait_for(lambda: _threads(proc.pid) > base, 300), "sampling never started"
        time.sleep(2.0)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == code, stderr
    assert "nothing was published" in stderr
    assert Registry(out).runs() == []
    assert list((out / STAGING_NAME).iterdir()) == []


@pytest.mark.slow
def test_concurrent_runs_publish_distinct_complete_revisions(data_dir, tmp_path):
    out = tmp_path / "runs"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "forecast", "run", "--data", str(data_dir), "--out", str(out),
         "--force", "--seed", str(seed), *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        for seed in (1, 2)]
    results = [p.communicate(timeout=1200) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    runs = Registry(out).runs()
    assert [r.revision for r in runs] == [1, 2]
    assert sorted(r.manifest["settings"]["seed"] for r in runs) == [1, 2]
    for r in runs:
        assert r.manifest["revision"] == r.revision and r.manifest["run"] == r.name
        assert all(sha256_file(r.path / f) == h for f, h in r.manifest["outputs"].items())
        assert f"(revision {r.revision})" in (r.path / "report.html").read_text()


@pytest.mark.parametrize("field, value", [("draws", 0), ("tune", -3), ("chains", 1.5),
                                          ("draws", True)])
def test_run_request_refuses_a_sampler_setting_that_is_not_a_positive_whole_number(field, value):
    """A library caller's ``RunRequest(draws=1.5)`` was truncated to 1 draw without a word; it
    is refused naming the field (which the command line says as its option)."""
    request = RunRequest(**{field: value})
    with pytest.raises(forecast.InputError, match=f"parameter '{field}', value '?{value}'?: "
                       f"{field} must be an integer from 1 to"):
        request.sampler_settings()
    assert RunRequest(**{field: 7}).sampler_settings()[0][field] == 7


def test_ally_codes_pandas_would_guess_keep_their_change_since_the_last_run(tmp_path):
    """The run's own tables were read back with pandas' guessing: the ally ``NA`` became
    missing and ``036`` the number 36, so neither had a change since the previous run, and
    the report named the first ``nan``."""
    cat = forecast.synthetic_catalog(3).to_dict()
    cat["allies"] = {"NA": "Namibia", "036": "Australia", "JPN": "Japan"}
    sim = forecast.simulate(catalog=forecast.Catalog.from_dict(cat), n_months=48, seed=5)
    runs = tmp_path / "runs"
    for month in ("2016-12", "2017-01"):
        sim.panel.truncate(month).write(tmp_path / month)
        out = run_month(RunRequest(data=tmp_path / month, out=runs, month=month, force=True),
                        fitter=_oracle(sim))
        assert out.status == "published", out.message
    head = pd.read_csv(out.run.path / "headline.csv", dtype=str, keep_default_na=False)
    assert sorted(head["ally"]) == ["036", "JPN", "NA"]
    assert (head["previous_period"] == "2016-12").all()
    assert (head["credibility_change"] != "").all()
    warn = pd.read_csv(out.run.path / "early_warnings.csv", dtype=str, keep_default_na=False)
    assert len(warn) and (warn["previous"] != "").all()
    assert "<b>nan</b>" not in (out.run.path / "report.html").read_text(encoding="utf-8")


def test_observations_under_another_name_are_named(tmp_path):
    """``--data DIR`` reads ``observations.csv``: a folder holding ``obs.csv`` (the name the
    data contract's example messages use) was told only what was expected, not what was found;
    a workbook ``observations.xlsx`` is told to be saved as CSV."""
    sim = forecast.simulate(n_allies=2, n_months=12, seed=1)
    obs, _ = sim.panel.write(tmp_path)
    obs.rename(tmp_path / "obs.csv")
    (tmp_path / "events.csv").write_text("ally,date,type\n", encoding="utf-8")
    result = _cli("validate", "--data", str(tmp_path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ("no observations file: expected observations.csv, observations.parquet or "
            "observations.pq in the data directory; found obs.csv: the observations are read "
            "only under the name observations.csv (or .parquet, .pq)") in " ".join(
                result.output.split()), result.output
    (tmp_path / "observations.xlsx").write_bytes(b"PK")
    result = _cli("validate", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert "found observations.xlsx, not read: a CSV (UTF-8) or Parquet file" in " ".join(
        result.output.split()), result.output


# ---------------------------------------------------------------------- backtest
def test_backtest_scores_each_origin_and_writes_its_tables(sim, data_dir, tmp_path):
    """Real fits at two origins three months apart, the last three months before the data's
    end (the default choice of origins): each origin said as it is scored, the scores by
    horizon and over all months printed and written, and a second backtest into the same
    directory refused before any fit (a backtest never overwrites one)."""
    out = tmp_path / "bt"
    args = ["backtest", "--data", str(data_dir), "--count", "2", "--every", "3", "--horizon",
            "3", "--chains", "2", "--draws", "60", "--tune", "60", "--seed", "4"]
    result = _cli(*args, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "2 origins (2016-06, 2016-09)" in result.output
    assert result.output.count("origin 2016-") == 2
    table = pd.read_csv(out / "backtest.csv")
    assert sorted(table["origin"].unique()) == ["2016-06", "2016-09"]
    assert len(table) == 2 * 3 * 3  # origins × allies × months ahead
    # 2016-09's months ahead are the panel's last three; the data hold each month it scores
    y = sim.panel.outcome.values
    last = table[table["origin"] == "2016-09"].sort_values(["ally", "horizon"])
    np.testing.assert_array_equal(last["observed"].to_numpy(), y[:, -3:].ravel())
    origins = pd.read_csv(out / "origins.csv")
    assert origins["origin"].tolist() == ["2016-06", "2016-09"]
    assert origins["last_fitted"].tolist() == ["2016-06", "2016-09"]
    scores = pd.read_csv(out / "scores.csv", dtype={"horizon": str}).set_index("horizon")
    assert scores.index.tolist() == ["1", "2", "3", "all"]
    assert scores.loc["all", "n"] == scores.loc[["1", "2", "3"], "n"].sum() == 18
    assert scores.loc["all", "crps"] == pytest.approx(table["crps"].mean(), rel=1e-5)
    for column in ("crps", "crps_skill", "covered90"):
        assert column in result.output
    assert set(COVERAGE) | {"crps_persistence", "log_score_persistence"} <= set(scores.columns)
    assert "brier_persistence" in result.output and "crps_skill_persistence" in result.output
    assert scores.loc["all", "crps_skill_persistence"] == pytest.approx(
        1 - table["crps"].mean() / table["crps_persistence"].mean(), rel=1e-4)
    pit = re.search(r"PIT histogram of the counts, 10 bins.*?: ((?:[0-9.]+ ?){10})",
                    result.output, re.S)
    assert pit and sum(map(float, pit[1].split())) == pytest.approx(1.0, abs=0.03)
    again = _cli(*args, "--output", str(out))
    assert again.exit_code == 2 and "already holds backtest.csv" in again.output
    assert "origin 2016-" not in again.output  # refused before the first fit


def test_backtest_refuses_bad_input_with_exit_2_before_any_fit(data_dir, tmp_path):
    (tmp_path / "file").write_text("x")
    run = tmp_path / "runs" / "2016-12"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    for args, text in ((["--origins", "2016-12"], "an origin must be a month of the panel "
                        "before its last"),
                       (["--count", "20", "--every", "6"], "have no room for 20 origins"),
                       (["--origins", "2016-13"], "--origins"),
                       (["--origins", "2016-03,,"], "expected months YYYY-MM separated by "
                        "commas"),
                       (["--origins", ""], "expected months YYYY-MM separated by commas"),
                       (["--output", str(tmp_path / "file" / "bt")], "a file in the way"),
                       (["--output", str(run / "bt")], "--output is inside the run")):
        result = _cli("backtest", "--data", str(data_dir), *args)
        assert result.exit_code == 2, result.output
        assert text in result.output and "Traceback" not in result.output
        assert "backtest of" not in result.output  # said before the fits' banner
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json"]
    # origins chosen by --count and --every, the first before a signal's first value: said
    # of those options, not of an --origins the user never gave
    result = _cli("backtest", "--data", str(data_dir), "--count", "2", "--every", "23")
    assert result.exit_code == 2, result.output
    assert "option '--count', value 2: the origin 2014-01, chosen by --count 2 and --every 23: " \
        "the panel cut at this origin cannot be fitted" in result.output
    assert "--origins'" not in result.output


def test_backtest_says_which_scheduler_it_could_not_use(data_dir, monkeypatch):
    """--scheduler: an address where no scheduler answers, or Dask not installed, is exit 2
    naming the option, before any fit."""
    import sys

    import forecast.scheduling

    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(forecast.scheduling, "CONNECT_TIMEOUT_S", 1)
    args = ("backtest", "--data", str(data_dir), "--count", "1", "--horizon", "3")
    result = _cli(*args, "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert "option '--scheduler', value 'tcp://127.0.0.1:9': no scheduler answered there" \
        in result.output and "Traceback" not in result.output
    assert "origin 20" not in result.output  # no origin was fitted
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = _cli(*args, "--scheduler", "local")
    assert result.exit_code == 2 and "'distributed' extra" in result.output, result.output
