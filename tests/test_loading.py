"""Loading valid input: round trips, formats, ragged panels, coarse periods, the event log."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import datasets
from forecast.catalog import Catalog, read_catalog
from forecast.datasets import DataPaths, default_paths, load_from
from forecast.errors import DataWarning, InputError, UnobservedEndWarning
from forecast.events import events_to_observations, read_events
from forecast.loading import load_panel, read_observations
from forecast.panel import Panel

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG = FIXTURES / "signals.toml"
OBS = FIXTURES / "observations.csv"
EVENTS = FIXTURES / "events.csv"


def assert_panels_equal(a: Panel, b: Panel) -> None:
    assert a.allies == b.allies
    assert a.months.equals(b.months)
    assert list(a.signals) == list(b.signals)
    for name in a.signals:
        x, y = a.signals[name], b.signals[name]
        assert x.periods.equals(y.periods), name
        np.testing.assert_array_equal(x.mask, y.mask, err_msg=name)
        np.testing.assert_array_equal(x.values, y.values, err_msg=name)  # NaN == NaN here
        np.testing.assert_array_equal(x.month_start, y.month_start, err_msg=name)
        np.testing.assert_array_equal(x.month_stop, y.month_stop, err_msg=name)


@pytest.fixture(scope="module")
def panel() -> Panel:
    return load_panel(OBS, catalog=CATALOG, events=EVENTS)


def test_read_observations_frame() -> None:
    frame = read_observations(OBS, CATALOG)
    assert list(frame.columns) == ["ally", "period", "signal", "value", "source"]
    assert frame["value"].dtype == np.float64
    assert frame.iloc[0].to_dict() == {"ally": "JPN", "period": "2020-01",
                                       "signal": "exercise_tempo", "value": 3.0,
                                       "source": "fixture"}
    assert len(frame) == len(OBS.read_text().splitlines()) - 1


def test_round_trip_through_write(panel: Panel, tmp_path: Path) -> None:
    obs, cat = panel.write(tmp_path)
    again = load_panel(obs, catalog=cat)
    assert_panels_equal(panel, again)
    assert again.catalog == panel.catalog
    assert again.data_hash() == panel.data_hash()
    assert_panels_equal(load_panel(obs), again)  # signals.toml next to the file by default
    cited = panel.to_frame(sources=True)["source"]
    assert (cited != "").all() and (again.to_frame(sources=True)["source"] == cited).all()


def test_a_simulated_panel_written_and_read_is_the_fitted_one(tmp_path: Path) -> None:
    """Written with 10 significant digits, a simulated panel's normal values came back up to
    4e-10 off: another data hash, so ``load_fit(path, panel=read_back)`` refused the fit made
    on it. The fixture's short decimals hid it."""
    import forecast

    panel = forecast.simulate(n_allies=3, n_months=36, seed=2).panel
    again = load_panel(panel.write(tmp_path)[0])
    assert again.data_hash() == panel.data_hash()
    assert again == panel and again != panel.truncate(str(panel.months[-2]))  # raised ValueError
    assert hash(again) == hash(panel) and len({again, panel}) == 1  # raised TypeError
    for name, sig in panel.signals.items():
        assert np.array_equal(again.signals[name].values, sig.values, equal_nan=True), name


def test_truncate_refuses_a_month_outside_the_panel(panel: Panel) -> None:
    """``truncate("2030-01")`` stretched the panel past its data; a month before it raised
    IndexError, a malformed one pandas' DateParseError."""
    first, last = str(panel.months[0]), str(panel.months[-1])
    assert panel.truncate(last).n_months == panel.n_months
    assert panel.truncate(first).n_months == 1
    assert panel.truncate(panel.months[-2]).n_months == panel.n_months - 1  # its own Period
    for end, says in (("2030-01", "outside the panel"), ("1990-01", "outside the panel"),
                      ("foo", "malformed"), ("2020-13", "malformed"), (202001, "malformed")):
        with pytest.raises(InputError, match=says) as err:
            panel.truncate(end)
        assert err.value.parameter == "end"


def test_a_panel_without_signals_is_the_one_built_without_them(panel: Panel) -> None:
    """``without`` (a held-out-signal check's panel) gives what a catalog and data never
    holding those signals give: same data hash, sources and months; the outcome, an unknown
    name and a catalog left with no signed indicator are refused."""
    dropped = [panel.indicators[0].name, panel.drivers[0].name]
    got = panel.without(*dropped)
    raw = panel.catalog.to_dict()
    raw["signals"] = {n: t for n, t in raw["signals"].items() if n not in dropped}
    frame = panel.to_frame(sources=True)
    want = Panel.from_frame(frame[~frame["signal"].isin(dropped)], Catalog.from_dict(raw),
                            start=str(panel.months[0]), end=str(panel.months[-1]))
    assert got == want and got.data_hash() == want.data_hash() != panel.data_hash()
    assert got.to_frame(sources=True).equals(want.to_frame(sources=True))
    assert got.catalog == want.catalog and dropped[0] not in got.catalog.signals
    signed = [s.name for s in panel.catalog.indicators if s.sign != 0]
    for names, says in (([panel.catalog.outcome.name], "the outcome cannot be left out"),
                        (["exercise_temp"], "not a signal of the panel.*did you mean"),
                        ([], "name at least one signal to leave out"),
                        (signed, "cannot leave these out, the catalog left would be refused: "
                                 ".*sign = 1 or -1|no indicator")):
        with pytest.raises(InputError, match=says) as err:
            panel.without(*names)
        assert err.value.parameter == "names"
    with pytest.raises(InputError, match="each its own argument"):
        panel.without(dropped)  # a list where the names go one by one
    # panel.indicators holds the signals themselves: its repr filled 5 000 characters
    with pytest.raises(InputError, match=r"value 'SignalData'.*\(a SignalData: pass its "
                       r"\.name\)$"):
        panel.without(*panel.indicators)


def test_csv_and_parquet_give_equal_panels(tmp_path: Path) -> None:
    frame = pd.read_csv(OBS, dtype=str).astype({"value": float})
    parquet = tmp_path / "obs.parquet"
    frame.to_parquet(parquet)
    # events=False: the fixture's event log lies next to OBS, and not next to the copies
    csv = load_panel(OBS, catalog=CATALOG, events=False)
    assert_panels_equal(csv, load_panel(parquet, catalog=CATALOG, events=False))
    pq = tmp_path / "obs.pq"
    frame.astype({"value": str}).to_parquet(pq)  # text values read the same
    assert_panels_equal(csv, load_panel(pq, catalog=CATALOG, events=False))


def test_parquet_nulls_are_empty_cells(tmp_path: Path) -> None:
    """pandas reads a null of a text column as NaN: a missing source was kept as the citation
    'nan', and a missing ally was reported as the unknown ally 'nan'."""
    frame = pd.read_csv(OBS, dtype=str).astype({"value": float})
    frame.loc[0, "source"] = None
    frame.to_parquet(tmp_path / "obs.parquet")
    sources = load_panel(tmp_path / "obs.parquet", catalog=CATALOG,
                         events=False).to_frame(sources=True)
    first = frame.iloc[0]
    cited = sources[(sources["ally"] == first["ally"]) & (sources["signal"] == first["signal"])
                    & (sources["period"].astype(str) == first["period"])]["source"]
    assert list(cited) == [""]
    assert "nan" not in set(sources["source"])
    frame.loc[1, "ally"] = None
    frame.to_parquet(tmp_path / "obs.parquet")
    with pytest.raises(InputError, match="row 2, column 'ally', value '': missing ally") as err:
        load_panel(tmp_path / "obs.parquet", catalog=CATALOG)
    assert "'nan'" not in str(err.value)


def test_catalog_object_or_path() -> None:
    assert_panels_equal(load_panel(OBS, catalog=read_catalog(CATALOG)),
                        load_panel(OBS, catalog=str(CATALOG)))
    # anything else is named as the parameter it is (it said "column 'catalog'")
    with pytest.raises(InputError, match=r"^parameter 'catalog': expected a catalog path or a "
                       r"Catalog, got dict$") as err:
        load_panel(OBS, catalog={"allies": {"JPN": "Japan"}})
    assert err.value.parameter == "catalog" and err.value.column is None


def test_ragged_panel_ally_starting_late(panel: Panel) -> None:
    phl = panel.allies.index("PHL")
    mask = panel.signals["exercise_tempo"].mask[phl]
    assert not mask[:5].any() and mask[5]  # PHL's data start in 2020-06
    assert panel.months[0] == pd.Period("2020-01", "M")
    cov = panel.coverage().set_index(["signal", "ally"])
    assert cov.loc[("exercise_tempo", "PHL"), "first"] == "2020-06"


def test_coarse_periods_map_to_their_months(panel: Panel) -> None:
    meetings = panel.signals["meetings"]
    assert [str(p) for p in meetings.periods] == ["2020Q1", "2020Q2", "2020Q3", "2020Q4"]
    assert meetings.month_start.tolist() == [0, 3, 6, 9]
    assert meetings.month_stop.tolist() == [3, 6, 9, 12]
    spending = panel.signals["defense_spending"]
    assert (spending.month_start.tolist(), spending.month_stop.tolist()) == ([0], [12])
    assert spending.values[panel.allies.index("KOR"), 0] == 2.6


def test_grid_ends_at_last_month_covered_or_until(panel: Panel) -> None:
    assert panel.last_month == "2020-12"  # the annual 2020 value covers the whole year
    later = load_panel(OBS, catalog=CATALOG, events=EVENTS, until="2021-03")
    assert later.last_month == "2021-03"
    assert later.n_months == 15
    hedging = later.outcome
    assert not hedging.mask[:, 12:].any()  # months without data are unobserved
    lapses = later.signals["consultation_lapse"]
    assert lapses.mask.all() and (lapses.values[:, 12:] == 0).all()  # the log runs to until


def test_months_past_the_last_monthly_signal_are_warned_of(panel: Panel) -> None:
    """``until`` a year past the data moved the forecast's origin there without a word (a
    forecast "through December" started in December, from a year of extrapolated months); so
    did an annual value of the current year, which runs the grid to December. The warning
    names what ran the grid on, and advises leaving ``until`` out only where that was it. An
    event log without a declared end counts to ``until``: its zeros are data, nothing said."""
    import forecast

    sim = forecast.simulate(n_allies=2, n_months=24, seed=1)  # monthly data to 2015-12
    frame, catalog = sim.panel.to_frame(), sim.panel.catalog
    with pytest.warns(UnobservedEndWarning) as said:
        load_panel(frame, catalog=catalog, until="2016-09")
    assert [str(w.message) for w in said] == [
        "no monthly signal is observed after 2015-12: the panel runs 9 months further, to "
        "2016-09 (until), months with no data for a fit to read; a forecast starts from "
        "2016-09 (horizon 1 is 2016-10); to forecast from the data's last month, leave until "
        "out, or cut the panel there: panel.truncate('2015-12')"]
    assert panel.last_observed_month == "2020-06" and panel.last_month == "2020-12"
    for until in (None, "2020-12"):  # the annual 2020 value ran it to December, not until
        with pytest.warns(UnobservedEndWarning) as said:
            load_panel(OBS, catalog=CATALOG, events=False, until=until)
        text = str(said[0].message)
        assert ("after 2020-06: the panel runs 6 months further, to 2020-12 (the last "
                "quarterly or annual period)") in text and "leave until out" not in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # data to the grid's last month: nothing to say
        load_panel(frame, catalog=catalog, until="2015-12")
        load_panel(OBS, catalog=CATALOG, events=EVENTS, until="2021-03")  # the log's zeros


def test_grid_without_coarse_data_ends_at_last_month(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("ally,period,signal,value\nJPN,2021-02,hedging,0\nKOR,2021-05,hedging,1\n"
                    "PHL,2021-03,hedging,2\n", encoding="utf-8")
    p = load_panel(path, catalog=CATALOG, events=False)
    assert (str(p.months[0]), p.last_month) == ("2021-02", "2021-05")
    assert not p.signals["consultation_lapse"].mask.any()  # no event log given: unobserved


def test_the_event_log_beside_the_observations_is_read_unless_told_not_to(tmp_path: Path) -> None:
    """``load_panel(obs, catalog=...)`` on a data directory reads its event log, as the monthly
    run's ``--data`` does: without it the embedded data's hedging outcome, which is counted from
    events, had no row, and only the fit said so, naming another signal."""
    with_log = load_panel(OBS, catalog=CATALOG, events=EVENTS)
    assert_panels_equal(load_panel(OBS, catalog=CATALOG), with_log)
    without = load_panel(OBS, catalog=CATALOG, events=False)
    assert not without.signals["consultation_lapse"].mask.any()  # no log: unobserved
    assert with_log.signals["consultation_lapse"].mask.any()
    copy = tmp_path / "observations.csv"
    copy.write_bytes(OBS.read_bytes())
    with pytest.warns(DataWarning, match=r"the catalog counts 'consultation_lapse' from an "
                      r"event log, but no log was given nor found beside observations.csv"):
        assert_panels_equal(load_panel(copy, catalog=CATALOG), without)  # no log beside it
    pd.read_csv(EVENTS).to_parquet(tmp_path / "events.pq")  # as observations.pq is read
    assert_panels_equal(load_panel(copy, catalog=CATALOG), with_log)
    (tmp_path / "events.pq").rename(tmp_path / "events.parquet")
    assert_panels_equal(load_panel(copy, catalog=CATALOG), with_log)
    (tmp_path / "events.csv").write_bytes(EVENTS.read_bytes())
    with pytest.raises(InputError, match=r"2 event logs \(events.csv, events.parquet\)") as err:
        load_panel(copy, catalog=CATALOG)
    assert err.value.file == str(tmp_path)
    # a log read by default that the observations contradict says where it came from
    counted = tmp_path / "counted"
    with_log.write(counted)
    (counted / "events.csv").write_bytes(EVENTS.read_bytes())
    with pytest.raises(InputError, match="counted from the event log.*was read because it lies "
                       "beside the observations; events=False ignores it"):
        load_panel(counted / "observations.csv")
    assert_panels_equal(load_panel(counted / "observations.csv", events=False), with_log)
    with pytest.raises(InputError, match="expected an event log") as err:
        load_panel(OBS, catalog=CATALOG, events=True)
    assert err.value.parameter == "events"
    paths = default_paths()
    assert load_panel(paths.observations, catalog=paths.catalog).outcome.mask.any()
    # the fit of a panel loaded without its log says what to check
    from forecast.design import make_design
    from forecast.errors import SpecError
    from forecast.spec import load_spec
    with pytest.raises(SpecError, match=r"counts it from an event log, event types exercise: "
                       r"was the panel loaded without one\?"):
        make_design(load_panel(paths.observations, catalog=paths.catalog, events=False),
                    load_spec("default"))


def test_missing_observations_are_said_so_without_a_catalog(tmp_path: Path) -> None:
    """Without catalog=, a missing file was told to give a catalog (no signals.toml next to
    it), not that the file itself was not there."""
    (tmp_path / "signals.toml").write_text(CATALOG.read_text(encoding="utf-8"), encoding="utf-8")
    for path, says in ((tmp_path / "nope.csv", "file not found"),
                       (tmp_path / "no_folder" / "obs.csv", "file not found"),
                       (tmp_path, "a folder, not an observations file: expected the path "
                                  "of a CSV or Parquet table")):
        with pytest.raises(InputError) as err:
            load_panel(path)
        assert str(err.value) == f"{path}: {says}", str(err.value)


def test_observations_may_be_a_dataframe(tmp_path: Path) -> None:
    """As the event log may: a notebook's table loads like its file, errors name the frame."""
    frame = pd.read_csv(OBS, dtype=str)
    assert_panels_equal(load_panel(frame, catalog=CATALOG, events=EVENTS),
                        load_panel(OBS, catalog=CATALOG, events=EVENTS))
    with pytest.raises(InputError, match="need catalog=PATH") as err:
        load_panel(frame)
    assert err.value.parameter == "catalog"
    # periods as pandas Periods, monthly, quarterly ("2020Q1" was refused) and annual
    as_periods = frame.copy()
    freq = {"meetings": "Q", "defense_spending": "Y"}
    as_periods["period"] = [pd.Period(p.replace("-Q", "Q"), freq.get(s, "M"))
                            for p, s in zip(frame["period"], frame["signal"])]
    assert "meetings" in set(frame["signal"])
    assert_panels_equal(load_panel(as_periods, catalog=CATALOG, events=EVENTS),
                        load_panel(OBS, catalog=CATALOG, events=EVENTS))
    frame.loc[0, "ally"] = "XXX"
    with pytest.raises(InputError, match="unknown ally") as err:
        load_panel(frame, catalog=CATALOG)
    assert (err.value.file, err.value.row) == ("<observations frame>", 1)


def test_event_log_counts_with_zeros(panel: Panel) -> None:
    lapses = panel.signals["consultation_lapse"]
    kor, jpn, phl = (panel.allies.index(a) for a in ("KOR", "JPN", "PHL"))
    # the log covers the months up to the last monthly observation (2020-06); the annual 2020
    # value extends the grid to December, but those months are not covered by the log
    assert lapses.mask[:, :6].all() and not lapses.mask[:, 6:].any()
    assert lapses.values[kor, 1] == 2  # two mapped event types in 2020-02
    assert lapses.values[jpn, 4] == 1
    assert np.nansum(lapses.values[phl]) == 0
    assert np.nansum(lapses.values) == 3


def test_event_log_nan_before_its_start(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"', 'start = "2020-03"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    events = tmp_path / "events.csv"
    events.write_text("date,ally,event_type\n2020-05-03,JPN,consultation_lapse\n",
                      encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=events)
    lapses = p.signals["consultation_lapse"]
    assert str(p.months[0]) == "2020-01"
    assert np.isnan(lapses.values[:, :2]).all() and not lapses.mask[:, :2].any()
    assert lapses.mask[:, 2:6].all() and not lapses.mask[:, 6:].any()
    assert lapses.values[p.allies.index("JPN")].tolist()[2:6] == [0, 0, 1, 0]


def test_event_log_end_leaves_later_months_unobserved(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"',
                                                       'start = "2020-01"\nend = "2020-05"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=EVENTS, until="2021-02")
    lapses = p.signals["consultation_lapse"]
    assert lapses.mask[:, :5].all() and not lapses.mask[:, 5:].any()
    assert lapses.values[p.allies.index("JPN"), 4] == 1
    assert read_catalog(cat).to_dict()["event_log"] == {"start": "2020-01", "end": "2020-05"}


def test_event_log_zeros_stop_at_the_last_monthly_observation(tmp_path: Path) -> None:
    """Without `until` or `[event_log] end`, a value for the current year extends the grid to
    December but not the log's zeros: the outcome and event counts of the months after the
    last monthly observation are unobserved, not 0."""
    obs = tmp_path / "obs.csv"
    obs.write_text(OBS.read_text(encoding="utf-8") + "JPN,2021,defense_spending,1.1,x\n",
                   encoding="utf-8")
    p = load_panel(obs, catalog=CATALOG, events=EVENTS)
    assert p.last_month == "2021-12"
    lapses = p.signals["consultation_lapse"]
    assert lapses.mask[:, :6].all() and not lapses.mask[:, 6:].any()
    assert not p.outcome.mask[:, 6:].any()
    assert p.last_observed_month == "2020-06"


def test_event_log_end_extends_default_grid(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"',
                                                       'start = "2020-01"\nend = "2021-03"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=EVENTS)
    assert p.last_month == "2021-03"  # the log's zeros are data up to its end
    assert p.signals["consultation_lapse"].mask.all()


def test_event_log_start_earlier_than_data_extends_grid(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"', 'start = "2019-10"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=EVENTS)
    assert str(p.months[0]) == "2019-10"
    lapses = p.signals["consultation_lapse"]
    assert lapses.mask[:, :9].all() and not lapses.mask[:, 9:].any()  # 2019-10 to 2020-06
    assert not p.outcome.mask[:, :3].any()


def _with_ally_start(tmp_path: Path, table: str) -> Path:
    text = CATALOG.read_text(encoding="utf-8").replace(
        'start = "2020-01"', f'start = "2020-01"\n\n[event_log.ally_start]\n{table}')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    return cat


def test_an_ally_the_log_covers_from_later_is_unobserved_before(tmp_path: Path) -> None:
    """An ally that joined late had the log's zeros in every month from its start, read as
    months without a lapse (a user's trial: 41 months of 0 before Finland's first data)."""
    from forecast.monthly import late_entry

    cat = _with_ally_start(tmp_path, 'KOR = "2020-03"\nPHL = "2020-04"')
    events = tmp_path / "events.csv"
    events.write_text("date,ally,event_type\n2020-05-03,JPN,consultation_lapse\n"
                      "2020-03-02,KOR,consultation_lapse\n", encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=events)
    lapses = p.signals["consultation_lapse"]
    jpn, kor, phl = (p.allies.index(a) for a in ("JPN", "KOR", "PHL"))
    assert lapses.mask[jpn, :6].all()
    assert lapses.mask[kor].tolist()[:6] == [False, False, True, True, True, True]
    assert lapses.mask[phl].tolist()[:6] == [False, False, False, True, True, True]
    assert lapses.values[kor, 2] == 1
    assert read_catalog(cat).to_dict()["event_log"] == {
        "start": "2020-01", "ally_start": {"KOR": "2020-03", "PHL": "2020-04"}}
    assert events_to_observations(events, cat, end="2020-06").groupby("ally").size().to_dict() \
        == {"JPN": 6, "KOR": 4, "PHL": 3}
    assert late_entry(p) is None
    # an event before the month the log covers the ally from is an error, like one before start
    events.write_text("date,ally,event_type\n2020-02-14,KOR,consultation_lapse\n",
                      encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, column 'date', value '2020-02-14': event "
                       r"before 2020-03, from when the event log covers KOR"):
        load_panel(OBS, catalog=cat, events=events)


def test_an_event_log_that_no_signal_counts_from_is_warned_of(tmp_path: Path) -> None:
    """``[event_log]`` with ``ally_start`` and no signal listing event types was accepted
    without a word (a user's trial, who read ally_start as marking a late ally's entry)."""
    text = _with_ally_start(tmp_path, 'KOR = "2020-03"').read_text(encoding="utf-8")
    counted = re.search(r"\nevents = \[[^\]]*\]", text)
    assert counted, text  # the fixture's one counted signal
    cat = tmp_path / "signals.toml"
    cat.write_text(text.replace(counted.group(0), ""), encoding="utf-8")
    with pytest.warns(DataWarning, match=re.escape(
            "signals.toml: [event_log] is given but no signal lists event types (events = "
            "[...] in a signal's table), so the log counts nothing and [event_log.ally_start] "
            "marks no ally's entry")):
        read_catalog(cat)
    with warnings.catch_warnings():  # the fixture's own catalog: a signal counts from it
        warnings.simplefilter("error")
        read_catalog(CATALOG)


@pytest.mark.parametrize("table, says", [
    ('XYZ = "2020-03"', "key 'event_log.ally_start', value 'XYZ': unknown ally: expected "
                        "one of JPN, KOR, PHL"),
    ('KOR = "2020-01"', "not after the log's start '2020-01'"),
    ("KOR = 2020-03-01", 'expected a month as "YYYY-MM", in quotes'),
    ('KOR = "2020-3"', "key 'event_log.ally_start.KOR', value '2020-3': expected a month"),
])
def test_a_bad_ally_start_is_named(tmp_path: Path, table: str, says: str) -> None:
    with pytest.raises(InputError, match=re.escape(says)):
        read_catalog(_with_ally_start(tmp_path, table))


def test_an_ally_whose_data_begin_long_after_the_log_is_warned_of(tmp_path: Path) -> None:
    """Nothing said that an ally's months before its first data were read as observed zero
    events; the warning names the catalog entry that says otherwise."""
    from forecast.monthly import data_warnings

    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"', 'start = "2018-06"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=EVENTS)
    warned = [w for w in data_warnings(p) if "event log" in w]
    assert warned == [
        "JPN's first other data are of 2020-01, the log counts it from 2018-06; KOR's first "
        "other data are of 2020-01, the log counts it from 2018-06; PHL's first other data are "
        "of 2020-06, the log counts it from 2018-06: the event log's counts (consultation_lapse) "
        "are read as observed, 0 where nothing was logged, in every month before. If the log "
        "did not cover an ally then (one that joined later), say from when it does in the "
        'catalog, e.g. [event_log] start = "2020-01", the log\'s own start, if it was not '
        "complete before"]  # every ally late: the log's start, more likely than each ally's
    cat.write_text(text + '\n[event_log.ally_start]\nJPN = "2019-06"\n', encoding="utf-8")
    warned = [w for w in data_warnings(load_panel(OBS, catalog=cat, events=EVENTS))
              if "event log" in w]
    assert warned[0].startswith("KOR's first other data are of 2020-01, the log counts it "
                                "from 2018-06; PHL's")
    assert warned[0].endswith('e.g. [event_log.ally_start] KOR = "2020-01"')
    text = text.replace('start = "2018-06"', 'start = "2019-06"')  # PHL's 12 months: not warned
    cat.write_text(text, encoding="utf-8")
    assert not [w for w in data_warnings(load_panel(OBS, catalog=cat, events=EVENTS))
                if "event log" in w]


def test_an_event_log_that_ends_before_the_other_monthly_data_is_warned_of(
        tmp_path: Path) -> None:
    """``[event_log] end`` not moved on with a new month of data (docs/monthly-run.md says to)
    read that month's counts as not observed without a word: a user's trial (a month's
    consultation lapses lost, validate said OK)."""
    from forecast.monthly import data_warnings, log_ends_early

    text = CATALOG.read_text(encoding="utf-8")
    cat = tmp_path / "signals.toml"
    cat.write_text(text.replace('start = "2020-01"', 'start = "2020-01"\nend = "2020-05"'),
                   encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=EVENTS)
    assert not p.signals["consultation_lapse"].mask[:, 5].any()  # 2020-06: not observed
    said = log_ends_early(p)
    assert said == (
        "the catalog's [event_log] end, 2020-05, is before 2020-06, the last month of the "
        "other monthly data: the log's counts (consultation_lapse) of 2020-06 are read as not "
        "observed, not as months without events; if the log is complete to 2020-06, set "
        '[event_log] end = "2020-06"')
    assert said in data_warnings(p)
    # to the data's last monthly month: nothing to say, though an annual value of 2020 runs
    # the grid to December
    cat.write_text(text.replace('start = "2020-01"', 'start = "2020-01"\nend = "2020-06"'),
                   encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=EVENTS)
    assert str(p.months[-1]) == "2020-12" and log_ends_early(p) is None


def test_an_ally_with_no_data_but_the_logs_counts_is_warned_of(tmp_path: Path) -> None:
    """An ally added to the catalog with one event and no other rows had every month the log
    covers read as observed (0 lapses) without a word: a user's trial (New Zealand, one
    exercise in 2025, 26 years of zeros), as neither the late-entry nor the missing-rows
    warning looks at an ally without other data."""
    from forecast.monthly import data_warnings

    cat = tmp_path / "signals.toml"
    cat.write_text(CATALOG.read_text(encoding="utf-8").replace(
        'PHL = "Philippines"', 'PHL = "Philippines"\nNZL = "New Zealand"\nAUS = "Australia"'),
        encoding="utf-8")
    events = tmp_path / "events.csv"
    events.write_text(EVENTS.read_text(encoding="utf-8")
                      + "2020-04-20,NZL,consultation_lapse,x,y\n"
                      + "2020-03-02,AUS,consultation_lapse,x,y\n", encoding="utf-8")
    p = load_panel(OBS, catalog=cat, events=events)
    nzl = p.allies.index("NZL")
    assert p.signals["consultation_lapse"].mask[nzl, :6].all()  # the log's zeros: observed
    warned = [w for w in data_warnings(p) if "no data but the event log" in w]
    assert warned == [
        "NZL (counted from 2020-01, its first event of 2020-04); AUS (counted from 2020-01, its "
        "first event of 2020-03): no data but the event log's counts (consultation_lapse), read as "
        "observed, 0 where nothing was logged, in every month the log covers, and no other "
        "data measure their credibility: add their other signals' rows, or leave them out of "
        "[allies] (where the log did not cover an ally from its start, "
        "[event_log.ally_start] says from when it does)"]
    # with its other rows the ally is the late-entry warning's, not this one's
    rows = pd.read_csv(OBS, dtype=str)
    rows = pd.concat([rows, rows[rows["ally"] == "JPN"].assign(ally="NZL"),
                      rows[rows["ally"] == "JPN"].assign(ally="AUS")])
    rows.to_csv(tmp_path / "observations.csv", index=False)
    assert not [w for w in data_warnings(load_panel(tmp_path / "observations.csv", catalog=cat,
                                                     events=events))
                if "no data but the event log" in w]


def test_a_frame_without_the_log_its_catalog_counts_from_is_warned_of() -> None:
    """Observations given as a DataFrame have no folder to find events.csv in: the driver
    counted from it was left unobserved without a word, and the model's build failed later."""
    frame = pd.read_csv(OBS, dtype=str).astype({"value": float})
    with pytest.warns(DataWarning, match=r"the catalog counts 'consultation_lapse' from an event "
                      r"log, but no log was given \(observations given as a DataFrame have no "
                      r"folder to find one in\)"):
        p = load_panel(frame, catalog=CATALOG)
    assert not p.signals["consultation_lapse"].mask.any()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said on purpose, or given: no warning of a log
        warnings.simplefilter("ignore", UnobservedEndWarning)  # the fixture's, of every load
        load_panel(frame, catalog=CATALOG, events=False)
        load_panel(frame, catalog=CATALOG, events=EVENTS)


def test_events_to_observations_frame_and_path_agree() -> None:
    from_path = events_to_observations(EVENTS, CATALOG, end="2020-06")
    from_frame = events_to_observations(pd.read_csv(EVENTS, dtype=str), read_catalog(CATALOG),
                                        end="2020-06")
    pd.testing.assert_frame_equal(from_path, from_frame)
    assert list(from_path.columns) == ["ally", "period", "signal", "value", "source"]
    assert len(from_path) == 3 * 6  # allies × months, one event-derived signal
    kor_feb = from_path[(from_path.ally == "KOR") & (from_path.period == "2020-02")]
    assert kor_feb["value"].item() == 2 and kor_feb["source"].item() == "event log: fixture news"
    assert (from_path.loc[from_path.value == 0, "source"] == "event log: no event recorded").all()


def test_read_events_maps_types_to_signals() -> None:
    events = read_events(EVENTS, CATALOG)
    assert events["signal"].unique().tolist() == ["consultation_lapse"]
    assert events["month"].tolist() == ["2020-02", "2020-02", "2020-05"]


def test_header_only_event_log_means_all_zero(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("date,ally,event_type\n", encoding="utf-8")
    with pytest.warns(DataWarning, match="'consultation_lapse' never changes within an ally"):
        lapses = load_panel(OBS, catalog=CATALOG, events=events).signals["consultation_lapse"]
    assert lapses.mask[:, :6].all() and (lapses.values[:, :6] == 0).all()
    assert not lapses.mask[:, 6:].any()  # after the last monthly observation: not covered


def test_csv_dialect_details(tmp_path: Path) -> None:
    """UTF-8 BOM, CRLF, blank lines, padded cells, extra columns: all read; rows stay exact."""
    lines = OBS.read_text(encoding="utf-8").splitlines()
    lines[0] += ",notes"
    body = [line + ", some note " for line in lines[1:]]
    body[3] = " " + body[3].replace(",", " , ")
    text = "\r\n".join([lines[0], "", *body]) + "\r\n"
    path = tmp_path / "obs.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert_panels_equal(load_panel(path, catalog=CATALOG, events=False),
                        load_panel(OBS, catalog=CATALOG, events=False))
    path.write_bytes(b"\xef\xbb\xbf" + (text + "JPN,2020-13,hedging,1,x,y\r\n").encode("utf-8"))
    with pytest.raises(InputError) as info:
        load_panel(path, catalog=CATALOG)
    assert info.value.row == len(lines) + 2  # header, blank line, then the data lines


def test_load_from_data_paths(tmp_path: Path) -> None:
    paths = DataPaths.in_directory(FIXTURES, tmp_path)
    assert paths.observations == OBS and paths.events == EVENTS
    assert_panels_equal(load_from(paths, until="2021-01"),
                        load_panel(OBS, catalog=CATALOG, events=EVENTS, until="2021-01"))


def test_default_paths_checkout() -> None:
    paths = default_paths()
    repo = Path(datasets.__file__).resolve().parent.parent
    assert paths.models_dir in (repo / "models", repo / "forecast" / "_models")
    assert paths.catalog.name == "signals.toml" and paths.events.name == "events.csv"


def test_default_paths_prefers_installed_data(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_data").mkdir()
    (tmp_path / "_models").mkdir()
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)
    paths = default_paths()
    assert paths.observations == tmp_path / "_data" / "observations.csv"
    assert paths.models_dir == tmp_path / "_models"


def test_load_default_embedded_dataset() -> None:
    paths = default_paths()
    if not (paths.observations.is_file() and paths.catalog.is_file() and paths.events.is_file()):
        pytest.skip("the embedded dataset (data/) is not in this checkout yet")
    panel = datasets.load_default()
    assert isinstance(panel.catalog, Catalog)
    assert panel.n_months > 0 and all(sig.n_observed > 0 for sig in panel.indicators)


def _doubts(observations, catalog=None) -> list[str]:
    """The ``DataWarning`` messages of loading ``observations`` (a path or a frame)."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_panel(observations, catalog=catalog)
    doubts = [w for w in said if issubclass(w.category, DataWarning)]
    # each is said of the line that called the package, not of a line of its own code
    assert [w.filename for w in doubts] == [__file__] * len(doubts)
    return [str(w.message) for w in doubts]


def test_a_signal_that_never_changes_within_an_ally_is_warned_of() -> None:
    """A normal indicator stuck at one value, or a count that is always 0, loaded and fitted
    without a word: the model reads a signal's movements within an ally, so such a signal
    tells it nothing (a helper's trial of the library on edited data)."""
    import forecast

    sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    frame, catalog = sim.panel.to_frame(), sim.panel.catalog

    assert _doubts(frame, catalog) == []
    troops = frame["signal"] == "us_troops"
    same = frame.assign(value=frame["value"].where(~troops, 1.0))
    assert _doubts(same, catalog) == [
        "'us_troops' never changes within an ally (1 for every ally observed): its values tell "
        "the model nothing of credibility's movements"]
    per_ally = frame.assign(value=frame["value"].where(
        ~troops, frame["ally"].map({a: float(i) for i, a in enumerate(sim.panel.allies)})))
    assert _doubts(per_ally, catalog) == [
        f"'us_troops' never changes within an ally ({sim.panel.allies[0]} 0, "
        f"{sim.panel.allies[1]} 1, {sim.panel.allies[2]} 2): its values tell the model nothing "
        "of credibility's movements"]
    hedging = frame["signal"] == "hedging"
    assert _doubts(frame.assign(value=frame["value"].where(~hedging, 0.0)), catalog) == [
        "'hedging' never changes within an ally (0 for every ally observed): its values tell "
        "the model nothing of credibility's movements"]
    # one ally's movement is enough to read
    moving = same.copy()
    first = moving.index[troops & (moving["ally"] == sim.panel.allies[1])][0]
    moving.loc[first, "value"] = 2.0
    assert _doubts(moving, catalog) == []


def test_a_number_split_by_its_comma_is_warned_of(tmp_path) -> None:
    """``TWN,2018-01,exercise_tempo,1,200`` (a thousands separator, unquoted) read as the
    value 1 with the source 200, and validated without a word (a new user's trial)."""
    import forecast

    sim = forecast.simulate(n_allies=2, n_months=12, seed=1)
    obs, cat = sim.panel.write(tmp_path)
    lines = obs.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "ally,period,signal,value,source"
    assert _doubts(obs, cat) == []
    ally, period, signal = lines[5].split(",")[:3]
    lines[5] = f"{ally},{period},{signal},1,200"
    obs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _doubts(obs, cat) == [
        f"{obs}, row 6: value 1 with source '200', a number: if 1,200 was one number, the comma "
        "split it into value and source; write numbers without a thousands separator, with '.' "
        "as the decimal point (or quote the value)"]
    with pytest.warns(DataWarning):
        panel = load_panel(obs, catalog=cat)
    assert panel.to_frame().query("ally == @ally and period == @period and signal == @signal")[
        "value"].tolist() == [1.0]
    # a source that is a year, or a table with no commas to split, is no doubt
    lines[5] = f"{ally},{period},{signal},1,2023"
    obs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = pd.read_csv(obs, dtype={"source": str}).assign(source="200")
    assert _doubts(obs, cat) == [] and _doubts(frame, cat) == []


def test_a_value_far_from_its_allys_others_is_warned_of(tmp_path) -> None:
    """A normal signal's ``180`` typed for ``1.80`` read as a measurement and moved the latent,
    without a word (a new user's trial). The embedded data have none so far out."""
    import forecast

    sim = forecast.simulate(n_allies=2, n_months=48, seed=1, missing=0.0)
    obs, cat = sim.panel.write(tmp_path)
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    troops = frame.index[(frame["signal"] == "us_troops") & (frame["ally"] == "A01")]
    frame.loc[troops[3], "value"] = str(float(frame.loc[troops[3], "value"]) * 100 + 50)
    frame.to_csv(obs, index=False)

    said = _doubts(obs, cat)
    assert len(said) == 1 and said[0].startswith(
        f"{obs}, row {troops[3] + 2}: 'us_troops' "), said
    assert "for A01, far from A01's other values" in said[0] and said[0].endswith(
        "robust standard deviations away): a typo or another unit?")
    assert not [m for m in _doubts(default_paths().observations) if "far from" in m]
    # a spread of 1e-300 and a value of 1e100: numpy warned of an overflow, and the
    # message said "inf robust standard deviations"
    frame.loc[troops, "value"] = [repr(float(v)) for v in
                                  np.where(np.arange(len(troops)) % 2, 0.0, 1e-300)]
    frame.loc[troops[3], "value"] = "1e100"
    frame.to_csv(obs, index=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_panel(obs, catalog=cat)
    assert [type(w.message) for w in said] == [DataWarning], [str(w.message) for w in said]
    assert "(median 1e-300, over 1e308 robust standard deviations away)" in str(said[0].message)


@pytest.mark.parametrize("typed, says", [("500", "500 for A01, far from A01's other values"),
                                         ("1e12", "1e+12 for A01, far from A01's other values")])
def test_a_count_far_above_its_allys_others_is_warned_of(tmp_path, typed, says) -> None:
    """A count of 500 or 1e12 among months of 0 to 5 passed validate without a word; a
    month's burst is not doubted."""
    import forecast

    sim = forecast.simulate(n_allies=2, n_months=48, seed=1, missing=0.0)
    obs, cat = sim.panel.write(tmp_path)
    frame = pd.read_csv(obs, dtype=str, keep_default_na=False)
    counts = frame.index[(frame["signal"] == "exercise_tempo") & (frame["ally"] == "A01")]
    most = max(1.0, frame.loc[counts, "value"].astype(float).max())
    frame.loc[counts[3], "value"] = typed
    frame.to_csv(obs, index=False)
    said = _doubts(obs, cat)
    assert len(said) == 1 and said[0].startswith(
        f"{obs}, row {counts[3] + 2}: 'exercise_tempo' {says} ("), said
    assert f"times the most of the others, {most:g}): a typo or another unit?" in said[0]
    # a burst: 9 times the most, or under 100 events, is read as it is
    frame.loc[counts[3], "value"] = str(int(9 * most))
    frame.to_csv(obs, index=False)
    assert _doubts(obs, cat) == []
