"""The HTML report: content, escaping, self-containment, re-rendering, and a real browser.

Runs here go through the real pipeline (:func:`forecast.monthly.run_month`) with a real
:class:`~forecast.Fit` that needs no sampling: :func:`forecast.forecasting.oracle_fit`, whose
posterior is the simulation's truth. Sampling itself is exercised in ``test_cli.py``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import warnings
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import forecast
from forecast.cli import app
from forecast.forecasting import oracle_fit
from forecast.monthly import RunRequest, run_month
from forecast.report import _fmt, render_report, read_run

#: an ally's name with markup for the page and mathtext for matplotlib (whose parser raised
#: on ``$\frac{1}$`` in a fan chart's title: the run failed after its fit)
EVIL = '<script>alert("x")</script> & <b>Co</b> $\\frac{1}$'
#: a signal's description with markup (the catalog's text reaches the report too)
EVIL_ABOUT = "Exercises <b>started</b> & <i>counted</i>"


def _oracle(sim):
    def fitter(panel, spec, **kwargs):
        return oracle_fit(dataclasses.replace(sim, panel=panel), n_draws=120)
    return fitter


@pytest.fixture(scope="module")
def sim():
    return forecast.simulate(n_allies=3, n_months=36, seed=11)


@pytest.fixture(scope="module")
def data_dirs(sim, tmp_path_factory):
    """Two months of data (the last month, and the month before) with a hostile ally name."""
    root = tmp_path_factory.mktemp("data")
    last = sim.panel.last_month
    before = str(sim.panel.months[-2])
    dirs = {}
    for name, panel in (("before", sim.panel.truncate(before)), ("last", sim.panel)):
        d = root / name
        panel.write(d)
        cat = d / "signals.toml"
        text = cat.read_text(encoding="utf-8")
        cat.write_text(text.replace('A01 = "Synthetic ally 1"',
                                    'A01 = ' + '"' + EVIL.replace("\\", "\\\\")
                                    .replace('"', '\\"') + '"')
                       .replace('"Simulated exercise tempo"', f'"{EVIL_ABOUT}"'),
                       encoding="utf-8")
        dirs[name] = d
    dirs["months"] = (before, last)
    scen = root / "lapse.csv"
    scen.write_text(f"ally,period,signal,value,note\nA01,{last},consultation_lapse,3,"
                    f"talks <b>off</b>\n")
    dirs["scenario"] = scen
    return dirs


@pytest.fixture(scope="module")
def runs(sim, data_dirs, tmp_path_factory):
    """A registry with the month before and the last month (with a scenario), forced
    (an oracle posterior has no R-hat)."""
    out = tmp_path_factory.mktemp("runs")
    fitter = _oracle(sim)
    first = run_month(RunRequest(data=data_dirs["before"], out=out, force=True), fitter=fitter)
    second = run_month(RunRequest(data=data_dirs["last"], out=out, force=True,
                                  scenario=data_dirs["scenario"]), fitter=fitter)
    assert first.status == second.status == "published"
    return {"out": out, "before": first.run.path, "last": second.run.path}


def test_run_directory_is_complete(runs):
    names = {p.name for p in runs["last"].iterdir()}
    assert {"forecast.csv", "credibility.csv", "posterior.nc", "diagnostics.json",
            "manifest.json", "report.html", "run.log", "headline.csv", "attribution.csv",
            "early_warnings.csv", "coverage.csv", "scenario.csv"} <= names


def test_report_is_self_contained(runs):
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html.replace("&lt;script", "")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 2  # fan charts and the coverage heat map
    assert all(len(i) > 1000 for i in images)


def test_a_screen_reader_hears_what_the_figures_and_tables_show(runs):
    """The figures' alternative texts named the kind of chart only ("Fan charts of credibility
    and hedging per ally"), and the tables' ally cells were plain cells."""
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    run = read_run(runs["last"])
    fan, coverage = re.findall(r'<img alt="([^"]*)" src="data:image/png', html)
    now = run.credibility[run.credibility["horizon"] == 0].groupby("ally").tail(1)
    for _, r in now.iterrows():  # each ally's fitted median now, as the chart draws it
        assert f"{r['ally']}: credibility {_fmt(r['q50'], 1)} in {r['period']}" in fan
    shares = run.coverage.groupby("signal")["share"].mean()
    lowest = shares.idxmin()
    assert coverage.split("Over all allies and years: ")[1].startswith(
        f"{lowest} {_fmt(shares[lowest], pct=True)}")
    headline = html.split("<h2>Headline</h2>", 1)[1].split("<h2>", 1)[0]
    assert 'aria-labelledby="headline-about"' in headline
    assert headline.count('scope="row"') == len(run.headline)
    assert "<td class=\"l\"><b>" not in html


def test_the_forecasts_driver_assumption_is_said_where_there_are_drivers(runs, tmp_path):
    """The forecast's jump from the last fitted month came from an assumption about future
    drivers that the report did not state; a fit without drivers assumes none."""
    said = "Future drivers are drawn at each ally's recent rate"
    assert said in (runs["last"] / "report.html").read_text(encoding="utf-8")
    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    att = pd.read_csv(copy / "attribution.csv")
    assert (att["role"] == "driver").any()
    att[att["role"] != "driver"].to_csv(copy / "attribution.csv", index=False)
    _as_written(copy)
    assert said not in render_report(copy)


def test_data_text_is_escaped(runs):
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    assert EVIL not in html
    assert ("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt; "
            "$\\frac{1}$") in html


def test_the_report_says_what_each_signal_measures(runs, sim, tmp_path):
    """A reader saw only signal names (``defence_pledge``): the catalog's unit and description
    never reached the report (a new user's trial). A run published before the manifest kept
    them has no such table, and its report is still rendered."""
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    table = html.split("What each signal measures", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr><th class="l" scope="row">(.*?)</th>(.*?)</tr>', table)
    catalog = sim.panel.catalog.signals
    assert [name for name, _ in rows] == list(catalog)
    for name, cells in rows:
        sig = catalog[name]
        description = EVIL_ABOUT if name == "exercise_tempo" else sig.description
        assert re.findall(r'<td class="l">(.*?)</td>', cells) == [
            sig.role, sig.family, sig.frequency, html_escape(sig.unit),
            html_escape(description)], name
    assert EVIL_ABOUT not in html
    manifest = json.loads((runs["last"] / "manifest.json").read_text(encoding="utf-8"))
    del manifest["catalog"]["about"]
    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    old = render_report(copy)
    assert "<h2>Data coverage</h2>" in old and "What each signal measures" not in old


def test_the_months_before_an_allys_first_data_are_shaded(tmp_path):
    """A trial's ally that joined a year into the panel had a fan chart of fitted credibility
    from the panel's first month, with nothing to tell the months without its data from the
    rest. The manifest records each ally's first month with data; the chart shades the months
    before it and its alternative text says so."""
    from matplotlib import dates

    from forecast.report import fan_chart_figure, fan_chart_text

    sim = forecast.simulate(n_allies=2, n_months=36, ragged=True, seed=4)
    sim.panel.write(tmp_path / "data")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = run_month(RunRequest(data=tmp_path / "data", out=tmp_path / "runs",
                                      force=True), fitter=_oracle(sim))
    # A01's hedging axis spans 31 to 35 months, for which matplotlib's date ticks warned
    # (on the terminal of `forecast run`)
    assert not [str(w.message) for w in said if "AutoDateLocator" in str(w.message)]
    manifest = json.loads((result.run.path / "manifest.json").read_text(encoding="utf-8"))
    months = [str(m) for m in sim.panel.months]
    first = manifest["data"]["first_data"]
    assert first == {"A00": months[0], "A01": months[18]}  # ragged: the last ally halfway
    html = (result.run.path / "report.html").read_text(encoding="utf-8")
    fan = re.findall(r'<img alt="([^"]*)" src="data:image/png', html)[0]
    assert f"A01: no data before {months[18]} (shaded);" in fan
    assert "A00: credibility" in fan
    run = read_run(result.run.path)
    fig = fan_chart_figure(run.credibility, run.forecast, run.outcome, {}, first)
    spans = [[(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]
             for ax in fig.axes[::2]]  # the credibility panels, one per ally
    at = [dates.date2num(pd.Period(m, "M").to_timestamp()) for m in (months[0], months[18])]
    assert spans == [[], [tuple(at)]]
    # an ally whose only data are the event log's counts: every month shown
    only_log = {**first, "A00": None}
    fig = fan_chart_figure(run.credibility, run.forecast, run.outcome, {}, only_log)
    fitted = run.credibility.query("ally == 'A00' and horizon == 0")
    end = pd.Period(fitted["period"].iloc[-1], "M") + 1
    assert [(p.get_x(), p.get_x() + p.get_width()) for p in fig.axes[0].patches] == [
        (at[0], dates.date2num(end.to_timestamp()))]
    assert fan_chart_text(run.credibility, run.forecast, only_log).startswith(
        "Fan charts per ally. A00: no data but the event log's counts (shaded); credibility")
    assert "no data before" not in render_report(_without_first_data(result.run.path, tmp_path))


def _without_first_data(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run whose manifest has no ``data.first_data`` (a run published before
    it was recorded)."""
    copy = tmp_path / "copy" / run_dir.name
    shutil.copytree(run_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["data"]["first_data"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return copy


def test_a_dollar_in_a_name_is_drawn_as_text():
    """matplotlib reads ``$…$`` as mathtext: a signal named ``us_$troops_\\x$`` stopped the
    coverage heat map with a ParseSyntaxException, and a scenario named so the fan chart."""
    from forecast.plots import fan_chart
    from forecast.report import coverage_figure, figure_png
    from forecast.scenarios import Scenario

    coverage = pd.DataFrame({"ally": ["A$0", "A$0"], "signal": ["us_$troops_\\x$", "b"],
                             "role": "indicator", "year": [2020, 2021], "share": [0.5, 1.0]})
    assert len(figure_png(coverage_figure(coverage))) > 1000
    sim = forecast.simulate(n_allies=2, n_months=24, seed=3)
    fit = oracle_fit(sim, n_draws=20)
    named = Scenario.from_records([{"ally": "A00", "period": str(pd.Period(sim.panel.last_month,
                                                                           "M") + 1),
                                    "signal": "consultation_lapse", "value": 1}],
                                  name="cut $\\frac{1}$")
    assert len(fan_chart(fit.forecast(horizon=2, scenario=named, seed=1))._repr_png_()) > 1000


def test_report_sections(runs):
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    for heading in ("Headline", "What changed and why", "Forecasts", "Early warnings",
                    "Scenario", "Diagnostics", "Data coverage", "Provenance"):
        assert f"<h2>{heading}" in html, heading
    assert "FORCED PUBLICATION" in html
    run = read_run(runs["last"])
    for ally in ("A00", "A01", "A02"):
        assert f"<b>{ally}</b>" in html
    assert set(run.headline["trend"]) <= {"up", "down", "flat"}
    assert run.headline[["p_any_1", "p_any_3", "p_any_12"]].notna().all().all()
    assert (np.diff(run.headline[["p_any_1", "p_any_3", "p_any_12"]].to_numpy(), axis=1)
            >= -1e-12).all()


def test_what_changed_adds_up(runs):
    """Each ally's line reads: the month's change = the signals shown + other, and the parts
    add up to the change (to the rounding of what is shown)."""
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    html = html[html.index("<h2>What changed and why"):html.index("<h2>Forecasts")]
    att = read_run(runs["last"]).attribution
    for ally, sub in att.groupby("ally"):
        line = re.search(rf"<b>{ally}</b>.*?</tr>", html, re.S).group(0)
        found = re.search(r"([+−-]?\d+\.\d+) = (.*?), other ([+−-]?\d+\.\d+)", line, re.S)
        assert found, line
        num = lambda t: float(t.replace("−", "-"))  # noqa: E731
        parts = [num(v) for v in re.findall(r"</?span[^>]*>[^<]*? ([+−-]?\d+\.\d+)</span>",
                                                found.group(2))]
        assert num(found.group(1)) == pytest.approx(sub["change"].iloc[0], abs=0.006)
        assert sum(parts) + num(found.group(3)) == pytest.approx(num(found.group(1)),
                                                                 abs=0.005 * (len(parts) + 2))


def test_other_holds_what_the_shown_signals_leave():
    """Four signals moved JPN; three are shown, and other holds the fourth with the remainder,
    so the line adds up to the month's change."""
    from types import SimpleNamespace

    from forecast.report import _drivers

    att = pd.DataFrame({"ally": "JPN", "month": "2026-03", "change": -0.80,
                        "signal": ["lapse", "summits", "pledges", "exercises", "other"],
                        "contribution": [-1.19, 0.30, -0.20, 0.10, 0.19]})
    headline = pd.DataFrame({"ally": ["JPN"], "name": ["Japan"], "previous_period": [None],
                             "credibility_change": [None], "p_any_3_change": [None]})
    (d,) = _drivers(SimpleNamespace(attribution=att, headline=headline))
    assert [x["signal"] for x in d["signals"]] == ["lapse", "summits", "pledges"]
    assert d["month_change"] == _fmt(-0.80, signed=True)
    assert d["other"] == _fmt(0.29, signed=True)  # exercises 0.10 + other 0.19
    # the printed parts add up to the printed change (parts rounded on their own and other
    # as the unrounded remainder, 0.7449, printed -1.16 + 0.03 + 0.02 + 0.74 = -0.37)
    att = pd.DataFrame({"ally": "JPN", "month": "2026-03", "change": -0.3601,
                        "signal": ["lapse", "pledges", "hedging", "other"],
                        "contribution": [-1.1599, 0.0349, 0.0200, 0.7449]})
    (d,) = _drivers(SimpleNamespace(attribution=att, headline=headline))
    parts = [float(x["value"]) for x in d["signals"]] + [float(d["other"])]
    assert d["month_change"] == "-0.36" and round(sum(parts), 2) == -0.36, d


def test_the_scenario_table_leaves_out_allies_it_does_not_move(runs):
    """The scenario (a lapse with A01) moves A01 only: the other allies' changes are exactly 0
    on paired draws, so their rows are left out of the table and named below it."""
    run = read_run(runs["last"])
    changes = run.scenario.set_index("ally")[["p_any_change", "credibility_change"]]
    assert changes.loc["A01"].abs().to_numpy().max() > 0
    assert (changes.drop(index="A01") == 0).all().all()
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    section = html[html.index("<h2>Scenario"):html.index("<h2>Diagnostics")]
    assert '<th class="l" scope="row">A00</th>' not in section
    assert '<th class="l" scope="row">A01</th>' in section
    assert "Not moved by the scenario (every change 0, not shown):\n  A00, A02." in section


def test_a_month_without_data_is_flagged(runs, tmp_path):
    """A run whose month has no monthly observation (the data not in yet) says so at the top of
    its report; a run with data does not."""
    import json
    import shutil

    from forecast.report import write_report

    manifest = read_run(runs["last"]).manifest
    assert manifest["data"]["last_observed_month"] == manifest["month"]
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    assert "No monthly signal is observed after" not in html
    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    earlier = str(pd.Period(manifest["month"], "M") - 2)
    manifest["data"]["last_observed_month"] = earlier
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    html = write_report(copy, tmp_path / "r.html").read_text(encoding="utf-8")
    assert f"No monthly signal is observed after {earlier}: the\n  credibility of " \
           f"{manifest['month']} is a forecast" in html


def test_the_data_warnings_of_the_run_are_shown(runs, tmp_path):
    """What validate warned of (an ally without hedging rows, say) went to the terminal and
    run.log only; the report, what a reader sees, said nothing. Text from data is escaped."""
    import json
    import shutil

    from forecast.report import write_report

    manifest = read_run(runs["last"]).manifest
    assert manifest["data"]["warnings"] == []
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    assert "Data: " not in html
    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    manifest["data"]["warnings"] = ["A01 has no hedging (outcome) rows <b>"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    html = write_report(copy, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<div class="banner quick">Data: A01 has no hedging (outcome) rows &lt;b&gt;</div>' \
        in html
    for value, says in ((["text", 3], "expected text for 'data.warnings.1', found a number (3)"),
                        ("not a list", "expected a list for 'data.warnings'")):
        manifest["data"]["warnings"] = value
        (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        with pytest.raises(forecast.InputError, match=re.escape(says)):
            write_report(copy, tmp_path / "r.html")


@pytest.mark.parametrize("gone", ["early_warnings.csv", "diagnostics.json", "scenario.csv"])
def test_an_output_the_manifest_lists_must_be_there(runs, tmp_path, gone):
    """Without its file the report said "No ally crosses the warning threshold", or "The
    scenario moved no ally's forecast", and showed no diagnostics, with exit code 0."""
    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    (copy / gone).unlink()
    with pytest.raises(forecast.InputError, match=f"{gone} missing: the manifest lists it") \
            as err:
        read_run(copy)
    assert err.value.file == str(copy / gone)
    result = CliRunner().invoke(app, ["report", str(copy)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_an_output_altered_since_the_run_wrote_it_is_refused(runs, tmp_path):
    """early_warnings.csv cut to its header rendered "No ally crosses the warning threshold"
    beside a headline with an ally at 65%, exit 0; a blanked headline showed an empty table."""
    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    read_run(copy)  # as written: read
    (copy / "early_warnings.csv").write_text("ally,probability,previous,change\n")
    with pytest.raises(forecast.InputError, match="early_warnings.csv altered since the run "
                       "wrote it") as err:
        read_run(copy)
    assert err.value.file == str(copy / "early_warnings.csv")
    assert "header-only table would read as no early warning" in str(err.value)
    result = CliRunner().invoke(app, ["report", str(copy)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    # the early-warning example only where it applies (it was said of every file)
    shutil.copy(runs["last"] / "early_warnings.csv", copy / "early_warnings.csv")
    (copy / "coverage.csv").write_text("ally,signal,year,share\n")
    with pytest.raises(forecast.InputError, match="coverage.csv altered") as err:
        read_run(copy)
    assert "early warning" not in str(err.value)


def test_what_the_manifest_does_not_vouch_for_is_refused(runs, tmp_path):
    """With the manifest's entry for early_warnings.csv deleted and the file cut to its
    header, the report said "No ally crosses the warning threshold", exit 0; a stray
    scenario.csv in a run without a scenario was shown as its scenario; a posterior.nc
    replaced since was forecast from by ``scenario`` as the run's, and ``list`` showed all
    of these as sound."""
    before, copy = runs["before"], tmp_path / runs["before"].name
    shutil.copytree(before, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["outputs"]["early_warnings.csv"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for unlisted in ("header only", "gone"):
        if unlisted == "gone":
            (copy / "early_warnings.csv").unlink()
        else:
            (copy / "early_warnings.csv").write_text("ally,probability,previous,change\n")
        with pytest.raises(forecast.InputError, match="early_warnings.csv not among the "
                           "outputs the manifest lists") as err:
            read_run(copy)
        assert err.value.file == str(copy / "early_warnings.csv")
        listing = CliRunner().invoke(app, ["list", "--out", str(tmp_path)])
        assert listing.exit_code == 0, listing.output
        said = " ".join(listing.output.split())
        if unlisted == "gone":
            assert "; MISSING 1 unlisted" in said and "ALTERED" not in said
            assert f"warning: {copy.name}: MISSING early_warnings.csv (every run writes" in said
        else:
            assert "; ALTERED 1 file" in said and "MISSING" not in said
            assert (f"warning: {copy.name}: ALTERED early_warnings.csv (not as the run wrote "
                    "it") in said

    shutil.rmtree(copy)
    shutil.copytree(before, copy)
    shutil.copy(runs["last"] / "scenario.csv", copy / "scenario.csv")
    with pytest.raises(forecast.InputError, match="scenario.csv not among the outputs"):
        read_run(copy)
    assert "ALTERED scenario.csv" in " ".join(
        CliRunner().invoke(app, ["list", "--out", str(tmp_path)]).output.split())

    (copy / "scenario.csv").unlink()
    read_run(copy)  # as the run wrote it: read, listed as sound, and forecast from
    clean = CliRunner().invoke(app, ["list", "--out", str(tmp_path)])
    assert clean.exit_code == 0 and "ALTERED" not in clean.output, clean.output
    scen = tmp_path / "s.csv"
    scen.write_text(read_scenario_rows(runs["last"]), encoding="utf-8")
    assert CliRunner().invoke(app, ["scenario", str(scen), "--run", str(copy)]).exit_code == 0
    with open(copy / "posterior.nc", "r+b") as fh:  # one byte of its data changed
        fh.seek(-100, 2)
        byte = fh.read(1)
        fh.seek(-100, 2)
        fh.write(bytes([byte[0] ^ 1]))
    result = CliRunner().invoke(app, ["scenario", str(scen), "--run", str(copy)])
    assert result.exit_code == 2, result.output
    assert (f"error: {copy / 'posterior.nc'}: altered since the run wrote it"
            in " ".join(result.output.split()))
    # the report does not read the posterior, and list does not hash it (hundreds of MB a run)
    read_run(copy)
    # a file every run writes, gone with its manifest entry: missing, not altered
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["outputs"]["outcome.csv"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (copy / "outcome.csv").unlink()
    said = " ".join(CliRunner().invoke(app, ["list", "--out", str(tmp_path)]).output.split())
    assert f"warning: {copy.name}: MISSING outcome.csv (every run writes it" in said
    assert "ALTERED" not in said


def read_scenario_rows(run_dir: Path) -> str:
    """The scenario a run was given, as a scenario CSV."""
    rows = pd.read_csv(run_dir / "scenario_overrides.csv")
    return rows[["ally", "period", "signal", "value"]].to_csv(index=False)


def test_an_interrupted_report_leaves_no_temporary_file(runs, tmp_path, monkeypatch):
    """Ctrl-C while ``forecast report`` replaced report.html left report.html.tmp in the
    published run."""
    from forecast.report import write_report

    copy = tmp_path / runs["last"].name
    shutil.copytree(runs["last"], copy)
    before = sorted(p.name for p in copy.iterdir())

    def interrupted(self, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(copy)
    assert sorted(p.name for p in copy.iterdir()) == before


def test_change_since_previous_run(runs, data_dirs):
    before, last = data_dirs["months"]
    run = read_run(runs["last"])
    assert run.manifest["previous_run"] == runs["before"].name
    assert (run.headline["previous_period"] == before).all()
    prev = read_run(runs["before"]).headline.set_index("ally")["credibility"]
    now = run.headline.set_index("ally")
    np.testing.assert_allclose(now["credibility_change"], now["credibility"] - prev, atol=1e-5)
    assert now["p_any_3_change"].notna().all()
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    assert f"compared with <code>{runs['before'].name}</code>" in html
    # the previous run was forced (an oracle posterior has no R-hat): the header says so
    assert run.manifest["previous_run_caveats"] == ["FORCED: not converged"]
    assert "(FORCED: not converged: a poor baseline)" in html
    # a sign -1 driver's positive contribution is explained, not left to look like an error
    assert "A driver is measured against its average month" in " ".join(html.split())
    # the attribution names the signals that moved each ally
    att = run.attribution
    assert {"ally", "signal", "contribution"} <= set(att.columns)


def test_scenario_results_in_report(runs):
    run = read_run(runs["last"])
    assert {"ally", "horizon", "p_any_change"} <= set(run.scenario.columns)
    a01 = run.scenario[run.scenario["ally"] == "A01"]
    assert (a01["p_any_change"].abs().max()) > 0  # a lapse moves hedging
    assert "lapse.csv" in (runs["last"] / "report.html").read_text(encoding="utf-8")


def test_what_a_scenario_assumed_is_kept_with_the_run(runs, data_dirs, tmp_path):
    """The run kept only the scenario file's path on the analyst's machine: once the file was
    moved or edited nobody could tell what the run had assumed. Its rows are now
    scenario_overrides.csv, its name and description in the manifest and the report."""
    last = data_dirs["months"][1]
    kept = pd.read_csv(runs["last"] / "scenario_overrides.csv", dtype={"period": str},
                       keep_default_na=False)
    # the file's note is kept with what it labels (it was accepted, then dropped); a label
    # no row gave is blank
    assert kept.to_dict("records") == [{"ally": "A01", "period": str(last),
                                        "signal": "consultation_lapse", "op": "set",
                                        "value": 3.0, "source": "", "note": "talks <b>off</b>"}]
    manifest = read_run(runs["last"]).manifest
    assert manifest["scenario"] == {"name": "lapse", "description": ""}
    assert "scenario_overrides.csv" in manifest["outputs"]
    section = render_report(runs["last"]).split("<h2>Scenario", 1)[1].split("<h2>", 1)[0]
    assert section.startswith(": lapse</h2>")
    assert f'<td class="l">A01</td><td class="l">{last}</td><td class="l">consultation_lapse' \
        in section
    # the note is shown, escaped; the source column, blank in every row, is not
    assert '<td class="l">talks &lt;b&gt;off&lt;/b&gt;</td></tr>' in section
    assert '<th class="l" scope="col">note</th>' in section and '<th class="l">source</th>' not in section
    copy = _copy_run(runs, tmp_path)
    manifest["scenario"] = {"name": "<b>A01</b> lapse", "description": "Talks <i>fail</i>"}
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    section = render_report(copy).split("<h2>Scenario", 1)[1].split("<h2>", 1)[0]
    assert section.startswith(": &lt;b&gt;A01&lt;/b&gt; lapse</h2>")
    assert "<p>Talks &lt;i&gt;fail&lt;/i&gt;</p>" in section


def test_a_change_that_rounds_to_zero_is_shown_as_plus_zero():
    """A scenario's change of -0.39 points was shown as "-0 pts", and base and scenario
    rounded alike (24% → 24%) beside a change of "-1 pts"; the scenario table now shows one
    decimal, and nothing rounds to a negative zero."""
    from forecast.report import scenario_view

    assert (_fmt(-0.0039, signed=True, pct=True), _fmt(-0.004, signed=True)) == ("+0 pts", "+0.00")
    row = {"ally": "A01", "period": "2017-03", "horizon": 3, "p_any_base": 0.2430,
           "p_any_alt": 0.2362, "p_any_change": -0.0068, "p_any_change_lo": -0.03,
           "p_any_change_hi": 0.0, "credibility_change": -0.004,
           "credibility_change_lo": -0.2, "credibility_change_hi": -0.0001,
           "p_any_within_change": -0.0004}
    shown = scenario_view(pd.DataFrame([row])).iloc[0]
    assert shown["P(hedging) base → scenario"] == "24.3% → 23.6%"
    assert shown["change (90% interval)"] == "-0.7 pts (-3.0 pts to +0.0 pts)"
    assert shown["credibility change (90% interval)"] == "+0.00 (-0.20 to +0.00)"
    assert shown["Δ P(hedging within h)"] == "+0.0 pts"


def test_scenario_labels_are_shown_as_written():
    """A source of 2026 was shown as 2026.000 (read back as a number), and a blank label as
    "–", the mark of a missing figure."""
    from forecast.report import _labels_shown, _table
    from forecast.tabular import run_table

    frame = run_table("ally,period,signal,op,value,source,note\n"
                      "A01,2017-01,consultation_lapse,set,1,2026,\n"
                      "A02,2017-01,consultation_lapse,set,2,,1.5e3\n")
    shown = _table(_labels_shown(frame))
    assert shown["header"][-2:] == ["source", "note"]
    assert [row[-2:] for row in shown["rows"]] == [["2026", ""], ["", "1.5e3"]]
    assert "note" not in _labels_shown(frame.assign(note=float("nan")))


def _copy_run(runs, tmp_path) -> Path:
    """A copy of the last run (with its scenario) to edit: the fixture's runs stay as they are."""
    copy = tmp_path / "copy"
    shutil.copytree(runs["last"], copy)
    return copy


def _as_written(run_dir: Path) -> None:
    """Record a copy's edited tables in its manifest, as if the run had written them so: the
    report refuses a file whose bytes are not those the manifest records."""
    from forecast.manifest import sha256_file

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["outputs"] = {p.name: sha256_file(p) for p in sorted(run_dir.iterdir())
                           if p.name not in ("manifest.json", "report.html", "run.log")}
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _bare_run(run_dir: Path) -> Path:
    """A run directory holding every file a run writes but the posterior, each with no rows
    (and its manifest's hashes of them)."""
    run_dir.mkdir()
    for name, header in (("headline", "ally"), ("forecast", "ally,period,mean,q05,q95"),
                         ("credibility", "ally,period,horizon,mean"),
                         ("attribution", "ally,month,change,signal,contribution"),
                         ("early_warnings", "ally,probability,previous,change"),
                         ("coverage", "ally,signal,year,share"),
                         ("outcome", "ally,period,value")):
        (run_dir / f"{name}.csv").write_text(header + "\n", encoding="utf-8")
    (run_dir / "diagnostics.json").write_text("{}", encoding="utf-8")
    (run_dir / "manifest.json").write_text(json.dumps({"month": "2026-03",
                                                       "settings": _SETTINGS}))
    _as_written(run_dir)
    return run_dir


def test_a_scenario_that_moves_nobody_still_has_its_section(runs, tmp_path):
    """The section, its file and the allies it did not move were all left out when no row was
    left to show, as if the run had no scenario."""
    copy = _copy_run(runs, tmp_path)
    frame = pd.read_csv(copy / "scenario.csv")
    changes = [c for c in frame.columns if "_change" in c]
    assert changes
    frame[changes] = 0.0
    frame.to_csv(copy / "scenario.csv", index=False)
    _as_written(copy)
    html = render_report(copy)
    section = html.split("<h2>Scenario", 1)[1].split("<h2>", 1)[0]
    assert "lapse.csv" in section and "moved no ally" in section
    assert "A00, A01, A02" in section


def test_an_unreliable_attribution_is_flagged(runs, tmp_path):
    """A contribution whose PSIS k̂ is above 0.7 is marked, and the mark explained; it read like
    any other (the k̂ column was never shown)."""
    copy = _copy_run(runs, tmp_path)
    att = pd.read_csv(copy / "attribution.csv")
    assert "pareto_k" in att
    html = render_report(copy)
    assert "†" not in html
    mine = att[(att["ally"] == "A00") & (att["signal"] != "other")]
    top = mine["contribution"].abs().idxmax()
    att.loc[top, "pareto_k"] = 1.4
    att.to_csv(copy / "attribution.csv", index=False)
    _as_written(copy)
    html = render_report(copy)
    changed = html.split("What changed and why", 1)[1].split("<h2>", 1)[0]
    flagged = re.findall(r'<span class="([a-z]*)">([a-z_]+) [^<]*†</span>', changed)
    # and not called a rise or a fall (it was coloured as one)
    assert flagged == [("", att.loc[top, "signal"])]
    assert "Pareto k̂ above 0.7" in changed


def test_a_contribution_within_its_monte_carlo_error_is_not_called_a_rise_or_fall(runs,
                                                                                  tmp_path):
    """An attribution of -0.01 was coloured as a fall with nothing to say that as many draws
    again could make it +0.01. Within twice its ``mcse`` of zero it is now uncoloured and
    marked; one further out keeps its colour, and a run written before the column (no
    ``mcse``) colours as before."""
    copy = _copy_run(runs, tmp_path)
    att = pd.read_csv(copy / "attribution.csv")
    assert "mcse" in att and att["mcse"].notna().all()
    att["mcse"] = att["mcse"].astype(float)  # the oracle's draws are alike: all 0
    mine = att[(att["ally"] == "A00") & (att["signal"] != "other")]
    clear, noisy = mine["contribution"].abs().sort_values(ascending=False).index[:2]
    assert abs(att.loc[clear, "contribution"]) >= 0.05
    other = att.index[(att["ally"] == "A00") & (att["signal"] == "other")]
    # -0.01 with an error of 0.008 (the rows still sum to the change)
    att.loc[other, "contribution"] += att.loc[noisy, "contribution"] + 0.01
    att.loc[noisy, ["contribution", "mcse"]] = [-0.01, 0.008]
    att.loc[clear, "mcse"] = abs(att.loc[clear, "contribution"]) / 10
    att.to_csv(copy / "attribution.csv", index=False)
    _as_written(copy)

    def spans(html):
        changed = html.split("What changed and why", 1)[1].split("<h2>", 1)[0]
        a00 = changed.split("<b>A00</b>", 1)[1].split("</tr>", 1)[0].split("</li>", 1)[0]
        return dict((name, (cls, "‡" in text)) for cls, name, text in
                    re.findall(r'<span class="([a-z]*)">([a-z_]+) ([^<]*)</span>', a00)), changed

    found, changed = spans(render_report(copy))
    assert found[att.loc[noisy, "signal"]] == ("", True)
    assert found[att.loc[clear, "signal"]][0] in ("up", "down")
    assert not found[att.loc[clear, "signal"]][1]
    assert "Monte Carlo standard errors of zero" in changed
    att.drop(columns="mcse").to_csv(copy / "attribution.csv", index=False)
    _as_written(copy)
    found, changed = spans(render_report(copy))
    assert found[att.loc[noisy, "signal"]][0] in ("up", "down")
    assert "‡" not in changed


def test_observed_zero_hedging_months_are_marked(runs):
    """Bars alone drew a month with 0 acts like a month not observed; every observed month now
    has a dot, at 0 too."""
    from forecast.report import OUTCOME_MONTHS, fan_chart_figure

    run = read_run(runs["last"])
    fig = fan_chart_figure(run.credibility, run.forecast, run.outcome, {})
    hedging = fig.axes[1]  # the first ally's row: credibility, hedging
    obs = run.outcome[run.outcome["ally"] == "A00"].tail(OUTCOME_MONTHS)
    assert (obs["value"] == 0).any()
    dots = [line for line in hedging.get_lines() if line.get_marker() == "."]
    assert len(dots) == 1
    assert np.array_equal(dots[0].get_ydata(), obs["value"].to_numpy())


def test_a_mean_that_a_few_draws_decide_is_not_drawn(runs):
    """The fan chart's dashed mean line stops where the forecast's ``mean_pareto_k`` is above
    0.7 (docs/decisions/0027), and a run written before that column draws every mean."""
    from forecast.report import fan_chart_figure

    run = read_run(runs["last"])
    rows = run.forecast["ally"] == "A00"
    assert "mean_pareto_k" in run.forecast
    marked = run.forecast.copy()
    marked["mean_pareto_k"] = np.where(rows & (marked["horizon"] >= 3), 0.9, 0.2)
    older = run.forecast.drop(columns="mean_pareto_k")
    means = []
    for table in (marked, older):
        hedging = fan_chart_figure(run.credibility, table, run.outcome, {}).axes[1]
        [line] = [ln for ln in hedging.get_lines() if ln.get_linestyle() == "--"]
        means.append(np.asarray(line.get_ydata(), dtype=float))
    expected = run.forecast.loc[rows, "mean"].to_numpy()
    horizon = run.forecast.loc[rows, "horizon"].to_numpy()
    np.testing.assert_array_equal(means[0], np.where(horizon >= 3, np.nan, expected))
    np.testing.assert_array_equal(means[1], expected)


def test_scenario_command_takes_the_runs_horizon_and_says_what_it_cut(runs, data_dirs,
                                                                     tmp_path):
    """Without --horizon it forecast 12 months whatever the run's horizon, so its baseline was
    not the run's own forecast; a table longer than the terminal's 60 rows was cut silently."""
    copy = _copy_run(runs, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["settings"]["horizon"] = 6
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "six.csv"
    result = CliRunner().invoke(app, ["scenario", str(data_dirs["scenario"]), "--run",
                                      str(copy), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["horizon"].max() == 6
    last = data_dirs["months"][1]
    two = tmp_path / "two.csv"
    two.write_text(f"ally,period,signal,value\nA01,{last},consultation_lapse,3\n"
                   f"A02,{last},consultation_lapse,3\n")
    result = CliRunner().invoke(app, ["scenario", str(two), "--run", str(copy), "--horizon",
                                      "36", "-o", str(tmp_path / "36.csv")])
    assert result.exit_code == 0, result.output
    more = re.search(r"… (\d+) more rows \(all in the CSV\)", result.output)
    assert more and int(more.group(1)) > 0, result.output


def test_scenario_command_names_its_run_first_and_cuts_the_runs_own_forecast(runs, data_dirs,
                                                                             tmp_path):
    """An error in the scenario came before the line naming the run it was resolved against;
    --horizon 3 gave another baseline than the run's own forecast.csv; -o could overwrite the
    scenario file; a scenario that moved nobody printed an empty table; a damaged manifest
    was read as no manifest, its seed and horizon guessed."""
    registry = runs["last"].parent
    late = tmp_path / "late.csv"
    late.write_text("ally,period,signal,value\nA01,2099-01,consultation_lapse,1\n")
    result = CliRunner().invoke(app, ["scenario", str(late), "--out", str(registry)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert text.index(f"vs. baseline of {runs['last']} (the newest run neither forced nor "
                      "quick, of its month's current data, else the newest") < \
        text.index("period outside the forecast")
    out = tmp_path / "h3.csv"
    result = CliRunner().invoke(app, ["scenario", str(data_dirs["scenario"]), "--run",
                                      str(runs["last"]), "--horizon", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    cut = pd.read_csv(out)
    own = pd.read_csv(runs["last"] / "forecast.csv")
    both = cut.merge(own, on=["ally", "horizon"])
    assert sorted(cut["horizon"].unique()) == [1, 2, 3] and len(both) == len(cut)
    np.testing.assert_allclose(both["p_any_base"], both["p_any"], rtol=1e-5)
    past = tmp_path / "past.csv"  # within the run's 12 months, past the 3 asked for
    origin = pd.Period(data_dirs["months"][1], "M")
    past.write_text(f"ally,period,signal,value\nA01,{origin + 6},consultation_lapse,3\n")
    result = CliRunner().invoke(app, ["scenario", str(past), "--run", str(runs["last"]),
                                      "--horizon", "3"])
    assert result.exit_code == 2 and "period outside the forecast" in result.output, \
        result.output
    result = CliRunner().invoke(app, ["scenario", str(data_dirs["scenario"]), "--run",
                                      str(registry)])
    assert result.exit_code == 2, result.output
    assert "not a published run" in result.output and "this is a registry" in \
        " ".join(result.output.split())
    result = CliRunner().invoke(app, ["scenario", str(data_dirs["scenario"]), "--run",
                                      str(runs["last"]), "-o", str(data_dirs["scenario"])])
    assert result.exit_code == 2 and "would overwrite it" in result.output, result.output
    nobody = tmp_path / "nobody.csv"
    nobody.write_text(f"ally,period,signal,value,op\nA01,{data_dirs['months'][1]},"
                      "consultation_lapse,0,add\n")
    result = CliRunner().invoke(app, ["scenario", str(nobody), "--run", str(runs["last"])])
    assert result.exit_code == 0, result.output
    assert "The scenario moved no ally's forecast" in result.output
    copy = _copy_run(runs, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["settings"]["horizon"] = "6"
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = CliRunner().invoke(app, ["scenario", str(data_dirs["scenario"]), "--run",
                                      str(copy)])
    assert result.exit_code == 2, result.output
    assert "expected a whole number for 'settings.horizon'" in " ".join(result.output.split())


def test_quick_runs_are_labelled(sim, data_dirs, tmp_path):
    out = run_month(RunRequest(data=data_dirs["last"], out=tmp_path, quick=True, force=True),
                    fitter=_oracle(sim))
    assert out.run.manifest["quick"] is True
    assert out.run.manifest["settings"]["preset"] == "quick"
    assert "QUICK RUN" in (out.run.path / "report.html").read_text(encoding="utf-8")


def test_report_command_rerenders(runs, tmp_path):
    target = runs["before"] / "report.html"
    before = target.read_text(encoding="utf-8")
    target.unlink()
    result = CliRunner().invoke(app, ["report", str(runs["before"])])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").count("<h2>") == before.count("<h2>")
    other = tmp_path / "copy.html"
    result = CliRunner().invoke(app, ["report", str(runs["before"]), "--output", str(other)])
    assert result.exit_code == 0 and other.is_file()


def test_report_of_a_non_run_is_an_input_error(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a run directory" in result.output
    # with --output beside it, the folder was said to be "the run" the output was inside
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--output",
                                      str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "not a run directory" in result.output, result.output
    with pytest.raises(forecast.InputError):
        render_report(tmp_path)


def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None, reason="no chromium installed")
def test_report_renders_in_headless_chromium(runs, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "report.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--disable-dev-shm-usage",  # a container's small /dev/shm crashes it
           f"--screenshot={shot}", "--window-size=1280,2400",
           (runs["last"] / "report.html").resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    pixels = mpimg.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1200
    # not a blank page: the figures and banners put many distinct colours on it
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200


@pytest.mark.parametrize("broken", ["manifest.json", "diagnostics.json"])
def test_an_unreadable_json_file_is_named(tmp_path, broken):
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "diagnostics.json").write_text("{}")
    (tmp_path / broken).write_text("{not json")
    with pytest.raises(forecast.InputError, match="unreadable JSON") as err:
        read_run(tmp_path)
    assert err.value.file == str(tmp_path / broken)


_SETTINGS = {"spec_name": "default", "sampler": "nutpie", "chains": 4, "draws": 1000,
             "tune": 1000, "seed": 1}
_DAMAGE = {
    "headline-empty": ("headline.csv", "", "unreadable CSV"),
    "forecast-empty": ("forecast.csv", "", "unreadable CSV"),
    "credibility-empty": ("credibility.csv", "", "unreadable CSV"),
    "headline-quote": ("headline.csv", 'garbage\n"unterminated\n', "unreadable CSV"),
    "credibility-columns": ("credibility.csv", "a,b\n1,2\n", "missing column.*'ally'"),
    "headline-columns": ("headline.csv", "name\nx\n", "missing column.*'ally'"),
    "manifest-empty": ("manifest.json", "{}", "missing key 'settings'"),
    "manifest-null": ("manifest.json", "null", "expected a JSON object, found null"),
    "manifest-list": ("manifest.json", "[]", "expected a JSON object, found a list"),
    "settings-null": ("manifest.json", json.dumps({"settings": None}),
                      "JSON object for 'settings', found null"),
    "settings-incomplete": ("manifest.json", json.dumps({"settings": {"seed": 1}}),
                            "missing key 'settings.spec_name'"),
    "data-null": ("manifest.json", json.dumps({"settings": _SETTINGS, "data": None}),
                  "JSON object for 'data', found null"),
    "run-on-incomplete": ("manifest.json", json.dumps({"settings": _SETTINGS,
                                                       "run_on": {"x": 1}}),
                          "missing key 'run_on.draws'"),
    "diagnostics-list": ("diagnostics.json", "[]", "expected a JSON object, found a list"),
    "diagnostics-converged": ("diagnostics.json", '{"converged": true}',
                              "missing key 'max_rhat'"),
    # a value of another type than the run wrote: each was a traceback, or a false banner
    "forced-text": ("manifest.json", json.dumps({"settings": _SETTINGS, "forced": "false"}),
                    r"expected true or false for 'forced', found a string \('false'\)"),
    "chains-text": ("manifest.json", json.dumps({"settings": {**_SETTINGS, "chains": "4"}}),
                    "expected a whole number for 'settings.chains'"),
    "input-text": ("manifest.json", json.dumps({"settings": _SETTINGS,
                                                "inputs": {"observations": "obs.csv"}}),
                   "expected a JSON object for 'inputs.observations'"),
    "input-sha": ("manifest.json", json.dumps({"settings": _SETTINGS,
                                               "inputs": {"observations": {"path": "o"}}}),
                  "missing key 'inputs.observations.sha256'"),
    "allies-list": ("manifest.json", json.dumps({"settings": _SETTINGS,
                                                 "catalog": {"allies": ["JPN"]}}),
                    "expected a JSON object for 'catalog.allies'"),
    # the fan charts draw from it (a traceback from the month's parse)
    "first-data-text": ("manifest.json", json.dumps({"settings": _SETTINGS, "data": {
        "first_data": {"A01": "June"}}}), "'data.first_data': expected a month YYYY-MM or null "
                                          "for 'A01', found 'June'"),
    # the charts compare it as written: ' 2020-07' would shade nothing
    "first-data-spaced": ("manifest.json", json.dumps({"settings": _SETTINGS, "data": {
        "first_data": {"A01": " 2020-07"}}}), "expected a month YYYY-MM or null for 'A01'"),
    "month-number": ("manifest.json", json.dumps({"settings": _SETTINGS, "month": 202605}),
                     "expected text for 'month'"),
    "threshold-text": ("manifest.json", json.dumps({"settings": _SETTINGS, "early_warning": {
        "threshold": "0.5", "within": 3}}), "expected a number for 'early_warning.threshold'"),
    "git-text": ("manifest.json", json.dumps({"settings": _SETTINGS,
                                              "environment": {"git": "abc"}}),
                 "expected a JSON object for 'environment.git'"),
    "diagnostics-table": ("diagnostics.json", '{"table": [1, 2]}',
                          "expected a JSON object for 'table.0'"),
    "diagnostics-worst": ("diagnostics.json", '{"worst": "x"}', "expected a list for 'worst'"),
    "diagnostics-rhat": ("diagnostics.json", '{"converged": true, "max_rhat": "1.003", '
                         '"min_ess_bulk": 900, "divergences": 0}',
                         "expected a number for 'max_rhat'"),
    "credibility-horizon": ("credibility.csv", "ally,period,horizon,mean\nA,2026-01,zz,1\n",
                            "row 2, column 'horizon', value 'zz': expected a number"),
    "credibility-period": ("credibility.csv", "ally,period,horizon,mean\nA,June,0,1\n",
                           "row 2, column 'period', value 'June': expected a month YYYY-MM"),
    # a figure of a table the report shows, where it is (had been shown as written, or a
    # traceback from the attribution's sort)
    "headline-figure": ("headline.csv", "ally,credibility,p_any_3\nA,-3.7,0.4\nB,abc,0.5\n",
                        "row 3, column 'credibility', value 'abc': expected a number"),
    "attribution-figure": ("attribution.csv", "ally,signal,contribution\nA,x,zz\n",
                           "column 'contribution', value 'zz': expected a number"),
    "warnings-figure": ("early_warnings.csv", "ally,probability,previous,change\nA,high,,\n",
                        "column 'probability', value 'high': expected a number"),
}


def test_a_report_reads_its_tables_as_a_person_would(tmp_path):
    """A blank name showed as "nan"; a signal whose contribution rounds to 0 was listed as a
    mover ("−0.00"); the quantities of a passing fit were headed by raw column names, R-hat
    to 3 decimals (1.0097 as 1.010, a failure to the eye) and ESS to 3 (1301.033)."""
    run_dir = _bare_run(tmp_path / "run")
    (run_dir / "headline.csv").write_text("ally,name,credibility,p_any_3\nKOR,,-3.7,0.4\n")
    (run_dir / "attribution.csv").write_text(
        "ally,month,change,signal,contribution\nKOR,2026-03,-0.5,consultation_lapse,-0.6\n"
        "KOR,2026-03,-0.5,exercise_tempo,-0.004\nKOR,2026-03,-0.5,other,0.104\n")
    (run_dir / "diagnostics.json").write_text(json.dumps({
        "converged": True, "max_rhat": 1.0097, "min_ess_bulk": 1301.0331, "divergences": 0,
        "worst": [{"quantity": "credibility[KOR, 2026-03]", "r_hat": 1.0097,
                   "ess_bulk": 1301.0331, "ess_tail": 938.61}]}))
    _as_written(run_dir)
    html = " ".join(render_report(run_dir).split())
    assert not re.search(r"\bnan\b", html) and "<b>KOR</b> KOR" in html
    assert "consultation_lapse -0.60" in html and "exercise_tempo" not in html
    assert "-0.50 = " in html and ", other +0.10" in html  # the small one joins other
    assert "Quantities nearest the gate" in html
    assert ('<th class="l" scope="col">quantity</th><th class="" scope="col">R-hat</th>'
            '<th class="" scope="col">bulk ESS</th>') in html
    assert ("<td class=\"l\">credibility[KOR, 2026-03]</td><td class=\"\">1.0097</td>"
            "<td class=\"\">1301</td><td class=\"\">939</td>") in html


@pytest.mark.parametrize("damage", list(_DAMAGE.values()), ids=list(_DAMAGE))
def test_a_damaged_run_file_is_an_input_error_naming_it(tmp_path, damage):
    """An empty or malformed CSV, a CSV without its columns, a manifest or diagnostics.json
    that is not an object or lacks what the report shows: each was a traceback (exit 1)."""
    name, text, message = damage
    run_dir = _bare_run(tmp_path / "run")
    assert "<h2>Headline</h2>" in render_report(run_dir)  # sound as it was
    (run_dir / name).write_text(text, encoding="utf-8")
    if name != "manifest.json":
        _as_written(run_dir)  # damaged as the run wrote it: not refused as altered
    with pytest.raises(forecast.InputError, match=message) as err:
        render_report(run_dir)
    assert err.value.file == str(run_dir / name)
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 2, result.output
    assert name in result.output and "Traceback" not in result.output


def test_the_change_since_the_previous_run_says_how_much_is_revision():
    """A new user read JPN's change of -0.12 beside its month's change of +0.40 with nothing
    to reconcile them: the refit had moved its estimate of the previous month by -0.52."""
    from types import SimpleNamespace

    from forecast.report import _drivers

    att = pd.DataFrame({"ally": "JPN", "month": "2026-04", "change": 0.4012,
                        "signal": ["lapse", "other"], "contribution": [0.04, 0.3612]})

    def drivers(previous_period):
        headline = pd.DataFrame({"ally": ["JPN"], "name": ["Japan"],
                                 "previous_period": [previous_period],
                                 "credibility_change": [-0.1189], "p_any_3_change": [0.01]})
        (d,) = _drivers(SimpleNamespace(attribution=att, headline=headline))
        return d

    d = drivers("2026-03")
    assert (d["change"], d["month_change"], d["revision"]) == ("-0.12", "+0.40", "-0.52")
    assert float(d["month_change"]) + float(d["revision"]) == pytest.approx(float(d["change"]))
    # against an earlier month the change spans more than one month's: no revision is said
    assert drivers("2026-02")["revision"] is None and drivers(None)["revision"] is None


def test_a_change_within_the_posteriors_uncertainty_is_not_coloured(runs, tmp_path):
    """A new user read KOR's +0.32 in green as a rise where the fit gave it 62%: the change is
    coloured only where the fit puts 80% or more (0.8 and 0.2 included) on credibility having
    moved that way since the previous run's month, and not where the change's sign is not the
    fit's (a revision) or no probability tells it; a run written before ``p_rose`` colours by
    the sign, as it did, and its note does not say otherwise."""
    copy = tmp_path / "last"
    shutil.copytree(runs["last"], copy)
    head = pd.read_csv(copy / "headline.csv")
    assert "p_rose" in head and head["p_rose"].between(0, 1).all()

    def classes(changes, p_rose):
        edited = head.assign(credibility_change=changes)
        edited = edited.drop(columns="p_rose") if p_rose is None else \
            edited.assign(p_rose=p_rose)
        edited.to_csv(copy / "headline.csv", index=False)
        _as_written(copy)
        html = render_report(copy)
        top = html.split("<h2>Headline</h2>", 1)[1].split("<h2>", 1)[0]
        why = html.split("What changed and why", 1)[1].split("<h2>", 1)[0]
        found = [re.findall(r'<td class="(up|down|)"(?: title="[^"]*")?>([+-][0-9.]+)', part)
                 for part in (top, why)]
        assert found[0] == found[1]
        return [cls for cls, _ in found[0]], " ".join(top.split())

    said = "coloured as a rise or a fall only where this fit's posterior probability"
    found, top = classes([0.32, -0.5, 0.4], [0.62, 0.2, 0.8])
    assert found == ["", "down", "up"] and said in top
    assert ("title=\"This fit's probability that credibility rose since the previous run's "
            "month: 62%\"") in top
    assert classes([-0.12, 0.3, 0.25], [0.93, np.nan, 0.99])[0] == ["", "", "up"]
    found, top = classes([0.32, -0.5, 0.4], None)
    assert found == ["up", "down", "up"] and said not in top


def test_a_published_run_prints_its_headline(runs, tmp_path, capsys):
    """A monthly run printed only "published" and the report's path: where each ally stands
    and what changed is now printed too, as the report's headline has it (a change within the
    posterior's noise uncoloured), and fits an 80-column terminal."""
    from rich.console import Console

    from forecast.cli import _headline_table, _print_outcome
    from forecast.monthly import RunOutcome
    from forecast.runs import PublishedRun

    run = read_run(runs["last"])
    outcome = RunOutcome(status="published", month=run.manifest["month"],
                         run=PublishedRun.read(runs["last"]), message="published")
    _print_outcome(outcome)
    printed = capsys.readouterr().out
    assert printed.index("published") < printed.index(f"Headline, {run.manifest['month']}") \
        < printed.index("report: ")
    for _, r in run.headline.iterrows():
        row = next(line for line in printed.splitlines() if line.split()[:1] == [r["ally"]])
        cells = row.split()
        assert cells[1] == _fmt(r["credibility"])
        assert cells[5].rstrip("*") == _fmt(r["credibility_change"], signed=True)
        assert cells[8:11] == [_fmt(r[f"p_any_{h}"], pct=True) for h in (1, 3, 12)]
    narrow = Console(width=80, record=True, color_system="truecolor")
    copy = tmp_path / "last"
    shutil.copytree(runs["last"], copy)
    head = pd.read_csv(copy / "headline.csv")
    head["credibility_change"], head["p_rose"] = [0.32, -0.5, 0.4], [0.62, 0.04, 0.97]
    head.to_csv(copy / "headline.csv", index=False)
    _as_written(copy)
    narrow.print(_headline_table(copy))
    text = narrow.export_text(clear=False)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "…" not in text  # nothing cut
    html = narrow.export_html(inline_styles=True)
    assert re.search(r'<span style="color: #[0-9a-f]+;[^"]*">-0.50\*</span>', html)
    assert re.search(r'<span style="color: #[0-9a-f]+;[^"]*">\+0.40\*</span>', html)
    assert not re.search(r'<span style="color: #[0-9a-f]+;[^"]*">\+0.32', html)
    # a log has no colour: the mark says which changes the fit tells from noise
    assert [line.split()[5] for line in text.splitlines()
            if line.split()[:1] in (["A00"], ["A01"], ["A02"])] == ["+0.32", "-0.50*", "+0.40*"]
    assert "*: this fit puts ≥ 80% on credibility having moved that way" in " ".join(text.split())
    assert "beyond it" not in text
    # a run forecast 3 months ahead has no P within 12 months: the "–" is said
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["settings"]["horizon"] = 3
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    head.assign(p_any_12=np.nan).to_csv(copy / "headline.csv", index=False)
    _as_written(copy)
    narrow.print(_headline_table(copy))
    text = " ".join(narrow.export_text().split())
    assert "A00 " in text and "% –" in text
    assert "this run forecast 3 months ahead: P within 12 months is beyond it (–)" in text


def test_a_run_whose_spec_walks_hedging_shows_its_level_by_year(tmp_path):
    """Hedging's common level walks by year (decision 0032), but no table or figure of a run
    showed it: a common rise that lifts every ally's forecast was seen only in the forecasts.
    The run writes hedging_level.csv (its manifest vouches for it), the report draws it and
    says it in words; without the file the report is refused, as for any table it lists."""
    sim = forecast.simulate(n_allies=2, n_months=48, seed=3, params={"outcome_drift_tau": 0.6})
    sim.panel.write(tmp_path / "data")
    result = run_month(RunRequest(data=tmp_path / "data", out=tmp_path / "runs", force=True),
                       fitter=_oracle(sim))
    run_dir = result.run.path
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert "hedging_level.csv" in manifest["outputs"]
    level = pd.read_csv(run_dir / "hedging_level.csv")
    assert level["year"].tolist() == [2014, 2015, 2016, 2017]
    # the oracle's draws are the truth: each year's factor is exp of the simulated walk
    np.testing.assert_allclose(level["q50"], np.exp(sim.truth["outcome_drift"].values),
                               rtol=1e-5)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<h3>Hedging's common level by year</h3>" in html
    alts = re.findall(r'<img alt="([^"]*)" src="data:image/png', html)
    said = [a for a in alts if a.startswith("Hedging&#39;s common level by year")]
    assert len(alts) == 3 and len(said) == 1
    top = level.loc[level["q50"].idxmax()]
    assert f"highest {top['q50']:.2g}× in {int(top['year'])}" in said[0]
    # whole years on the axis: a 4-year panel's ticks fell at 2013.5, 2014.0, 2014.5, ...
    from forecast.report import drawable_level, hedging_level_figure

    fig = hedging_level_figure(drawable_level(level))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "2014", "2015", "2016", "2017"]
    copy = tmp_path / "copy" / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "hedging_level.csv").unlink()
    with pytest.raises(forecast.InputError, match="hedging_level.csv missing"):
        read_run(copy)


def test_a_run_without_hedgings_walk_shows_no_level(runs):
    assert not (runs["last"] / "hedging_level.csv").exists()
    html = (runs["last"] / "report.html").read_text(encoding="utf-8")
    assert "common level by year" not in html
