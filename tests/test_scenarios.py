"""Scenarios as data: reading and validation, effects on paired forecasts, compare()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
import pytest

import forecast
from forecast.forecasting import oracle_fit
from forecast.scenarios import Scenario, compare, read_scenario

HORIZON = 6
DRIVER = "consultation_lapse"


@pytest.fixture(scope="module")
def fit():
    sim = forecast.simulate(n_allies=4, n_months=72, seed=31)
    return oracle_fit(sim, n_draws=300)


def _months(fit, offsets):
    origin = pd.Period(fit.design.periods[-1], "M")
    return [str(origin + k) for k in offsets]


def _lapses(fit, ally="A01", n=3, offsets=(0, 1, 2)):
    return Scenario.from_records(
        [{"ally": ally, "period": p, "signal": DRIVER, "value": n} for p in _months(fit, offsets)],
        name=f"{ally} lapses")


# ------------------------------------------------------------------------------- effects
def test_lapses_lower_credibility_and_raise_hedging_of_that_ally_only(fit):
    """Issue 5 acceptance: a scenario adding consultation lapses lowers the affected ally's
    credibility and raises its hedging probability; the others do not move at all (paired
    draws: same posterior draws, shocks, future drivers and outcome noise)."""
    base = fit.forecast(horizon=HORIZON, seed=3)
    alt = fit.forecast(horizon=HORIZON, scenario=_lapses(fit), seed=3)
    d = compare(base, alt)
    kor = d[d["ally"] == "A01"].set_index("horizon")
    # a lapse in month origin+k moves credibility from origin+k+1, hedging from origin+k+2
    assert (kor["credibility_change"] < 0).all()
    assert (kor.loc[2:, "p_any_change"] > 0).all()
    assert kor.loc[1, "p_any_change"] == 0
    assert (kor.loc[2:, "p_any_change_lo"] >= 0).all()  # every draw: monotone coupling
    others = d[d["ally"] != "A01"]
    assert (others[["credibility_change", "p_any_change", "p_any_within_change"]] == 0).all().all()
    a, b = alt.draws, base.draws
    others_idx = [i for i, x in enumerate(alt.allies) if x != "A01"]
    assert np.array_equal(a["own_state"].values[:, others_idx], b["own_state"].values[:, others_idx])
    assert np.array_equal(a["common_factor"].values, b["common_factor"].values)
    assert np.array_equal(a["hedging"].values[:, others_idx], b["hedging"].values[:, others_idx])
    # the affected ally's simulated counts never fall (inverse-CDF draws from common uniforms)
    assert (a["hedging"].values[:, 1] >= b["hedging"].values[:, 1]).all()
    assert alt.scenario_records()[0]["ally"] == "A01"


def test_fewer_lapses_than_usual_raise_credibility(fit):
    base = fit.forecast(horizon=HORIZON, seed=4)
    calm = Scenario.from_records([{"ally": "A02", "period": p, "signal": DRIVER, "value": 0}
                                  for p in _months(fit, range(HORIZON))])
    d = compare(base, fit.forecast(horizon=HORIZON, scenario=calm, seed=4))
    assert d.query("ally == 'A02' and horizon == @HORIZON")["credibility_change"].iloc[0] > 0


def test_add_op_adds_to_drawn_values(fit):
    base = fit.forecast(horizon=3, seed=8)
    plus = Scenario.from_records([{"ally": "A00", "period": _months(fit, [1])[0],
                                   "signal": DRIVER, "value": 2, "op": "add"}])
    alt = fit.forecast(horizon=3, seed=8, scenario=plus)
    diff = alt.draws["drivers"].values - base.draws["drivers"].values
    assert (diff[:, 0, 0, 1] == 2).all()
    assert np.count_nonzero(diff) == diff.shape[0]


def test_compare_identical_is_zero_and_refuses_unpaired(fit):
    a = fit.forecast(horizon=3, seed=1)
    d = compare(a, fit.forecast(horizon=3, seed=1))
    assert (d[["p_any_change", "credibility_change"]] == 0).all().all()
    # each refusal names what differs and what to keep the same (n_draws had been reported
    # as another posterior, a horizon as n_draws, an assumption as a seed)
    for other, says in (
            (dict(seed=2), r"their seed differs \('1' vs '2'\); forecast both with the same seed"),
            (dict(seed=1, n_draws=100), r"they use different posterior draws \(300 vs 100\); forecast "
             "both with the same n_draws"),
            (dict(seed=1, horizon=4), r"their horizons differ \(3 vs 4 months\); forecast "
             "both with the same horizon"),
            (dict(seed=1, driver_assumption="hold"), "their driver_assumption differs "
             r"\('recent' vs 'hold'\); forecast both with the same driver_assumption")):
        with pytest.raises(forecast.InputError, match="not paired: " + says):
            compare(a, fit.forecast(**{"horizon": 3, **other}))
    # two fits at other origins are named as such, not as another n_draws
    sim = forecast.simulate(n_allies=4, n_months=72, seed=31)
    earlier = oracle_fit(sim, end=fit.design.periods[-4], n_draws=100)
    with pytest.raises(forecast.InputError, match="their origin differs.*same fit"):
        compare(a, earlier.forecast(horizon=3, seed=1))
    # fits where forecasts go, as a dict (a TypeError: no alt) or two, are pointed to
    # compare_fits; one forecast alone is refused for its missing alt
    for call in (lambda: compare({"a": fit, "b": earlier}), lambda: compare(fit, earlier)):
        with pytest.raises(forecast.InputError, match=r"got (dict|Fit); to compare fits by "
                           r"their predictive accuracy: forecast\.compare_fits"):
            call()
    with pytest.raises(forecast.InputError, match="parameter 'alt'.*got nothing: "
                       r"compare\(base, alt\) takes two forecasts$"):
        compare(a)


def test_compare_refuses_forecasts_from_two_posteriors(fit):
    """Same data, spec, seed and draws, but another posterior (every hedging intercept + 1):
    not paired, so the difference is not the scenario's."""
    import dataclasses

    post = fit.idata["posterior"].to_dataset()
    post["outcome_intercept"] = post["outcome_intercept"] + 1.0
    other = dataclasses.replace(fit, idata=xr.DataTree.from_dict({"posterior": post}))
    with pytest.raises(forecast.InputError, match="posterior differs"):
        compare(fit.forecast(horizon=3, seed=1), other.forecast(horizon=3, seed=1))


def test_scenario_inputs_accepted_in_every_form(fit, tmp_path):
    month = _months(fit, [1])[0]
    rec = [{"ally": "A03", "period": month, "signal": DRIVER, "value": 2}]
    csv = tmp_path / "s.csv"
    pd.DataFrame(rec).to_csv(csv, index=False)
    toml = tmp_path / "s.toml"
    toml.write_text(f'name = "A03 lapse"\n[[override]]\nally = "A03"\nperiod = "{month}"\n'
                    f'signal = "{DRIVER}"\nvalue = 2\n', encoding="utf-8")
    ref = fit.forecast(horizon=3, seed=2, scenario=rec).hedging()
    for form in (csv, str(toml), pd.DataFrame(rec), Scenario.from_records(rec)):
        pd.testing.assert_frame_equal(fit.forecast(horizon=3, seed=2, scenario=form).hedging(),
                                      ref)
    assert read_scenario(toml).name == "A03 lapse"


# ------------------------------------------------------------------------------- validation
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, row, column, match", [
    ("ally,period,signal,value\nA00,2019-13,consultation_lapse,1\n", 2, "period", "malformed"),
    ("ally,period,signal,value\nA00,2019-01,consultation_lapse,abc\n", 2, "value", "number"),
    ("ally,period,signal,value\nA00,2019-01,consultation_lapse,\n", 2, "value", "missing"),
    ("ally,period,signal,value\nA00,2019-01,consultation_lapse,inf\n", 2, "value", "finite"),
    ("ally,period,signal,value\nA00,2019-01,consultation_lapse,３\n", 2, "value", "number"),
    ("ally,period,signal,value\nA00,2019-01,consultation_lapse,1_0\n", 2, "value", "number"),
    ("ally,period,signal,value,op\nA00,2019-01,consultation_lapse,1,mul\n", 2, "op", "op"),
    ("ally,period,signal,value,note\nA00,2019-01,consultation_lapse,1,\"bad\" news\n", 2, None,
     'malformed CSV.*begins with a double quote.*"""bad"" news, again"'),
    ("ally,period,signal,value,note\nA00,2019-01,consultation_lapse,1,\"bad news\n", 2, None,
     'malformed CSV: unexpected end of data; a field that begins with a double quote'),
    ("ally,period,signal,value\nA00,2019-01,consultation_lapse,1\n"
     "A00,2019-01,consultation_lapse,2\n", 3, None,
     "second override of consultation_lapse for A00 in 2019-01 .the first is at row 2"),
    ("ally,period,signal\nA00,2019-01,consultation_lapse\n", 1, "value",
     "missing required column 'value'.*found ally, period, signal"),
    ("ally,period,signal,value,colour\nA00,2019-01,consultation_lapse,1,red\n", 1, "colour",
     "unexpected key"),
])
def test_read_errors_name_file_row_column(tmp_path, text, row, column, match):
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(forecast.InputError, match=match) as err:
        read_scenario(path)
    assert err.value.file == str(path)
    assert err.value.row == row
    assert err.value.column == column


def test_a_row_key_is_refused_not_replaced_by_the_row_number(tmp_path):
    """Each override carries its row number in the table's ``row`` column: an override's own
    ``row`` key (a TOML entry's, a record's) was replaced by it unread, and the scenario
    accepted; a CSV's ``row`` column was refused."""
    toml = _write(tmp_path, "row.toml", '[[override]]\nally = "A00"\nperiod = "2019-01"\n'
                  'signal = "consultation_lapse"\nvalue = 1\n[[override]]\nally = "A00"\n'
                  'period = "2019-02"\nsignal = "consultation_lapse"\nvalue = 1\nrow = 7\n')
    csv = _write(tmp_path, "row.csv", "ally,period,signal,value,row\n"
                 "A00,2019-01,consultation_lapse,1,7\n")
    for path, row in ((toml, 2), (csv, 1)):
        with pytest.raises(forecast.InputError, match="unexpected key") as err:
            read_scenario(path)
        assert (err.value.file, err.value.row, err.value.column) == (str(path), row, "row")
    with pytest.raises(forecast.InputError, match="unexpected key") as err:
        Scenario.from_records([{"ally": "A00", "period": "2019-01", "signal": "x", "value": 1,
                                "row": 7}])
    assert (err.value.row, err.value.column) == (1, "row")


def test_read_errors_files(tmp_path):
    with pytest.raises(forecast.InputError, match="not found"):
        read_scenario(tmp_path / "none.csv")
    with pytest.raises(forecast.InputError, match="empty"):
        read_scenario(_write(tmp_path, "e.csv", ""))
    with pytest.raises(forecast.InputError, match=".csv or .toml"):
        read_scenario(_write(tmp_path, "s.json", "{}"))
    latin = tmp_path / "l.csv"
    latin.write_bytes("ally,period,signal,value\nCÔTE,2019-01,x,1\n".encode("latin-1"))
    with pytest.raises(forecast.InputError, match="UTF-8"):
        read_scenario(latin)
    with pytest.raises(forecast.InputError, match="TOML"):
        read_scenario(_write(tmp_path, "b.toml", "[[override]\n"))
    with pytest.raises(forecast.InputError, match="at least one"):
        read_scenario(_write(tmp_path, "n.toml", 'name = "nothing"\n'))
    toml = _write(tmp_path, "r.toml", '[[override]]\nally = "A00"\nperiod = "2019-01"\n'
                  'signal = "consultation_lapse"\nvalue = 1\n[[override]]\nally = "A00"\n'
                  'period = "2019-02"\nsignal = "consultation_lapse"\n')
    with pytest.raises(forecast.InputError, match="missing value") as err:
        read_scenario(toml)
    assert err.value.row == 2
    # a nan written in the file is no key left out: it was said as "missing value"
    nan = _write(tmp_path, "nan.toml", toml.read_text(encoding="utf-8") + "value = nan\n")
    with pytest.raises(forecast.InputError, match="nan is not a value: expected a number") \
            as err:
        read_scenario(nan)
    assert (err.value.row, err.value.column) == (2, "value")
    typo = _write(tmp_path, "t.toml", '[[override]]\nally = "A00"\nperiod = "2019-01"\n'
                  'signal = "consultation_lapse"\nvalue = 1\n[[override]]\nally = "A00"\n'
                  'period = "2019-02"\nsignal = "consultation_lapse"\nvalu = 2\n')
    yes = _write(tmp_path, "y.toml", '[[override]]\nally = "A00"\nperiod = "2019-01"\n'
                 'signal = "consultation_lapse"\nvalue = true\n')
    with pytest.raises(forecast.InputError, match="expected a number") as err:
        read_scenario(yes)  # TOML's true is no count of lapses, though Python reads it as 1
    assert (err.value.row, err.value.column, err.value.value) == (1, "value", True)
    # a quoted number is text in TOML, as spec files read it: it was read as the number 2
    quoted = _write(tmp_path, "q.toml", yes.read_text(encoding="utf-8").replace("true", '"2"'))
    with pytest.raises(forecast.InputError, match="expected a number without quotes") as err:
        read_scenario(quoted)
    assert (err.value.row, err.value.column, err.value.value) == (1, "value", "2")
    with pytest.raises(forecast.InputError, match="expected a number"):
        Scenario.from_frame(pd.DataFrame({"ally": ["A00"], "period": ["2019-01"],
                                          "signal": ["consultation_lapse"], "value": [True]}))
    named = _write(tmp_path, "n3.toml", 'name = 3\n[[override]]\nally = "A00"\n'
                   'period = "2019-01"\nsignal = "consultation_lapse"\nvalue = 1\n')
    with pytest.raises(forecast.InputError, match="expected text") as err:
        read_scenario(named)
    assert (err.value.column, err.value.value) == ("name", 3)
    dated = _write(tmp_path, "d.toml", '[[override]]\nally = "A00"\nperiod = 2019-01-01\n'
                   'signal = "consultation_lapse"\nvalue = 1\n')
    with pytest.raises(forecast.InputError, match='month in quotes') as err:
        read_scenario(dated)  # the value was shown as datetime.date(2019, 1, 1)
    assert (err.value.row, err.value.column, err.value.value) == (1, "period", "2019-01-01")
    for line, column, value in (("ally = 2019-01-01", "ally", "2019-01-01"),
                                ("period = 10:30:00", "period", "10:30:00")):
        timed = _write(tmp_path, "timed.toml", '[[override]]\nally = "A00"\nperiod = "2019-01"\n'
                       'signal = "consultation_lapse"\nvalue = 1\n'
                       .replace(f'{column} = "{"A00" if column == "ally" else "2019-01"}"',
                                line))
        with pytest.raises(forecast.InputError, match="in quotes") as err:
            read_scenario(timed)  # a time was shown as datetime.time(10, 30)
        assert (err.value.column, err.value.value) == (column, value)
        assert ("month" in str(err.value)) == (column == "period")
    with pytest.raises(forecast.InputError, match="value, op, source, note"):
        read_scenario(_write(tmp_path, "c.csv", "ally,period,signal,value,colour\n"
                             "A00,2019-01,consultation_lapse,1,red\n"))
    with pytest.raises(forecast.InputError, match="did you mean 'value'") as err:
        read_scenario(typo)
    assert (err.value.row, err.value.column) == (2, "valu")
    # a CSV row is named by its line in the file, blank lines counted
    gap = _write(tmp_path, "g.csv", "ally,period,signal,value\nA00,2019-01,x,1\n\n"
                 "A00,2019-13,x,1\n")
    with pytest.raises(forecast.InputError, match="malformed period") as err:
        read_scenario(gap)
    assert err.value.row == 4
    far = _write(tmp_path, "f.csv", "ally,period,signal,value\nA00,3026-01,x,1\n")
    with pytest.raises(forecast.InputError, match="period out of range: year 3026 is outside "
                       "1000 to 2999") as err:  # was "malformed", though written right
        read_scenario(far)
    assert (err.value.row, err.value.column) == (2, "period")
    assert read_scenario(_write(tmp_path, "h.csv", "ally,period,signal,value\n\n"
                                "A00,2019-02,x,1\n")).rows["row"].tolist() == [3]


def test_a_count_far_past_the_data_is_refused(fit):
    """1e23 lapses in a month were accepted, and moved credibility by -1.7e22."""
    most = np.nanmax(fit.design.driver_raw[:, fit.design.drivers.index(DRIVER), :])
    reach = 10 * max(most, 1.0)
    month = _months(fit, [1])[0]
    ok = Scenario.from_records([{"ally": "A01", "period": month, "signal": DRIVER,
                                 "value": reach}])
    ok.resolve(fit, HORIZON)
    for value, op in ((reach + 1, "set"), (1e23, "set"), (reach + 1, "add")):
        far = Scenario.from_records([{"ally": "A01", "period": month, "signal": DRIVER,
                                      "value": value, "op": op}])
        with pytest.raises(forecast.InputError, match="more than 10 times the most"):
            far.resolve(fit, HORIZON)


def test_resolve_errors_against_the_fit(fit, tmp_path):
    month = _months(fit, [1])[0]
    cases = [
        ({"ally": "XXX"}, "ally", "unknown ally"),
        ({"ally": "a01"}, "ally", "did you mean 'A01'"),
        ({"signal": "nope"}, "signal", "unknown signal"),
        ({"signal": "consultation_lapes"}, "signal", "did you mean 'consultation_lapse'"),
        ({"signal": "exercise_tempo"}, "signal", "indicator"),
        ({"signal": "hedging"}, "signal", "outcome"),
        ({"period": _months(fit, [-1])[0]}, "period", "outside the forecast"),
        ({"period": _months(fit, [HORIZON])[0]}, "period",
         f"outside the forecast.*with a horizon of {HORIZON} months"),
        ({"value": -1}, "value", "non-negative integer"),
        ({"value": 1.5}, "value", "non-negative integer"),
        ({"value": 0.5, "op": "add"}, "value", "whole number"),
    ]
    for change, column, match in cases:
        rec = {"ally": "A00", "period": month, "signal": DRIVER, "value": 1, **change}
        path = tmp_path / "s.csv"
        pd.DataFrame([rec]).to_csv(path, index=False)
        with pytest.raises(forecast.InputError, match=match) as err:
            fit.forecast(horizon=HORIZON, scenario=path, seed=1)
        assert (err.value.file, err.value.row, err.value.column) == (str(path), 2, column)
        if column == "value":  # as written: -1 had been shown as -1.0
            assert err.value.value == str(rec["value"]), err.value


def test_added_values_stay_values_of_the_driver():
    """``add`` keeps a count a count (whole numbers, floored at 0) and a binary driver 0 or 1;
    adding 0.5 lapses or 2 to a binary driver is refused, as setting them is."""
    from forecast.scenarios import Overrides, _check_support

    drawn = np.array([0.0, 1.0, 3.0]).reshape(3, 1, 1, 1)
    fewer = Overrides(((0, 0, 0, -2.0, "add"),), ("poisson",)).apply(drawn)
    assert fewer.ravel().tolist() == [0.0, 0.0, 1.0]
    binary = np.array([0.0, 1.0]).reshape(2, 1, 1, 1)
    assert Overrides(((0, 0, 0, 1.0, "add"),), ("bernoulli",)).apply(binary).ravel().tolist() \
        == [1.0, 1.0]
    assert Overrides(((0, 0, 0, -1.0, "add"),), ("bernoulli",)).apply(binary).ravel().tolist() \
        == [0.0, 0.0]
    for value, family in ((0.5, "poisson"), (2.0, "bernoulli"), (0.5, "bernoulli")):
        with pytest.raises(forecast.InputError):
            _check_support(value, family, {}, "add")
    _check_support(-1.0, "bernoulli", {}, "add")
    _check_support(-3.0, "negbin", {}, "add")


# ------------------------------------------------------------------------------- file forms
HEADER = "ally,period,signal,value\n"


def test_csv_row_with_more_fields_than_the_header_is_an_input_error(tmp_path):
    """A trailing comma gives a row a fifth field: an InputError naming the line, not a
    TypeError from pandas using the first column as the index."""
    path = _write(tmp_path, "trailing.csv", HEADER + "KOR,2026-04,consultation_lapse,1,\n")
    with pytest.raises(forecast.InputError, match="expected 4 fields.*found 5") as err:
        read_scenario(path)
    assert (err.value.file, err.value.row) == (str(path), 2)


def test_csv_rows_may_stop_before_the_optional_columns(tmp_path):
    """A hand-edited file fills op or a note on some rows only; pandas read the short rows,
    and the strict reader of the trailing-comma fix refused them. A row short of a required
    column is still refused."""
    path = _write(tmp_path, "short.csv", "ally,period,signal,value,op,note\n"
                  "KOR,2026-04,consultation_lapse,2\n"
                  "JPN,2026-04,consultation_lapse,1,add,a note\n")
    rows = read_scenario(path).rows
    assert rows[["ally", "op", "value"]].values.tolist() == [["KOR", "set", 2.0],
                                                             ["JPN", "add", 1.0]]
    short = _write(tmp_path, "shorter.csv", HEADER + "KOR,2026-04,consultation_lapse\n")
    with pytest.raises(forecast.InputError, match="expected 4 fields.*found 3"):
        read_scenario(short)


@pytest.mark.parametrize("period", ["2026-Q2", "2026Q2", "2026-4", "2026-04-01", "04/2026"])
def test_periods_other_than_yyyy_mm_are_refused(tmp_path, period):
    """Overrides are monthly: a quarter is not read as its first month."""
    path = _write(tmp_path, "q.csv", HEADER + f"KOR,{period},consultation_lapse,1\n")
    with pytest.raises(forecast.InputError, match="expected YYYY-MM.*monthly") as err:
        read_scenario(path)
    assert (err.value.row, err.value.column, err.value.value) == (2, "period", period)
    with pytest.raises(forecast.InputError, match="expected YYYY-MM"):
        Scenario.from_records([{"ally": "KOR", "period": period, "signal": DRIVER,
                                "value": 1}])


def test_a_monthly_period_object_is_read_as_its_month():
    """``pd.Period("2026-04", "M")`` was "expected text", while ``attribution(month=)`` takes
    one; a quarter is still no month."""
    records = [{"ally": "KOR", "period": pd.Period("2026-04", "M"), "signal": DRIVER,
                "value": 1}]
    assert Scenario.from_records(records).rows["period"].tolist() == ["2026-04"]
    # a quarter is told what a text quarter is told (it was "expected text")
    with pytest.raises(forecast.InputError, match="no quarters or years") as err:
        Scenario.from_records([{**records[0], "period": pd.Period("2026Q2", "Q")}])
    assert err.value.value == "2026Q2"


def test_a_timestamp_period_is_not_told_to_use_quotes():
    """A frame's datetime column was told "expected a month in quotes", TOML's advice, which a
    Python caller cannot follow; a TOML file is still told so."""
    rec = {"ally": "KOR", "period": pd.Timestamp("2026-04-01"), "signal": DRIVER, "value": 1}
    with pytest.raises(forecast.InputError, match='expected a month, such as "2026-04"') as err:
        Scenario.from_records([rec])
    assert "quotes" not in str(err.value) and err.value.value == "2026-04-01T00:00:00"


def test_source_and_note_are_kept_as_labels(tmp_path):
    """``source`` and ``note`` were accepted, then dropped: a run's scenario_overrides.csv
    lost the analyst's citation. They are kept, blank where not given, and change nothing in
    the scenario's identity (its JSON, stored with every forecast)."""
    path = tmp_path / "s.csv"
    path.write_text("ally,period,signal,value,source,note\n"
                    "KOR,2026-04,consultation_lapse,1,Yonhap 2026-03-30, talks off \n"
                    "KOR,2026-05,consultation_lapse,2,,\n", encoding="utf-8")
    rows = read_scenario(path).rows
    assert rows[["source", "note"]].to_dict("records") == [
        {"source": "Yonhap 2026-03-30", "note": "talks off"}, {"source": "", "note": ""}]
    bare = Scenario.from_records(
        [{"ally": "KOR", "period": "2026-04", "signal": DRIVER, "value": 1},
         {"ally": "KOR", "period": "2026-05", "signal": DRIVER, "value": 2}],
        name="s", file=str(path))
    assert bare.to_json() == read_scenario(path).to_json()


def test_toml_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'name = "x"\n[[override]]\nally = "KOR"\n'
                     b'period = "2026-04"\nsignal = "consultation_lapse"\nvalue = 1\n')
    scenario = read_scenario(path)
    assert scenario.name == "x"
    assert scenario.rows[["ally", "period", "value"]].to_dict("records") == [
        {"ally": "KOR", "period": "2026-04", "value": 1.0}]


def test_csv_header_names_and_cells_are_stripped(tmp_path):
    spaced = _write(tmp_path, "s.csv", "ally, period, signal, value , op\n"
                    "KOR , 2026-04 , consultation_lapse , 1 , add \n")
    plain = _write(tmp_path, "p.csv", "ally,period,signal,value,op\n"
                   "KOR,2026-04,consultation_lapse,1,add\n")
    pd.testing.assert_frame_equal(read_scenario(spaced).rows, read_scenario(plain).rows)
    toml = _write(tmp_path, "s.toml", '[[override]]\nally = " KOR"\nperiod = " 2026-04 "\n'
                  'signal = "consultation_lapse "\nvalue = 1\n')
    assert read_scenario(toml).rows[["ally", "period", "signal"]].to_dict("records") == [
        {"ally": "KOR", "period": "2026-04", "signal": "consultation_lapse"}]


def test_missing_column_message_lists_the_columns_found(tmp_path):
    path = _write(tmp_path, "m.csv", "ally;period;signal;value\nKOR;2026-04;x;1\n")
    with pytest.raises(forecast.InputError, match="found ally;period;signal;value") as err:
        read_scenario(path)
    assert (err.value.row, err.value.column) == (1, "ally")


def test_a_continuous_driver_far_past_its_data_is_refused():
    """A normal driver took any value: 1e23 moved credibility by -6e22, the extrapolation that
    counts are refused for."""
    import dataclasses

    catalog = forecast.synthetic_catalog(3)
    aid = forecast.SignalSpec(name="aid", role="driver", family="normal", frequency="monthly",
                              sign=0)
    catalog = dataclasses.replace(catalog, signals={**catalog.signals, "aid": aid})
    sim = forecast.simulate(n_allies=3, n_months=36, catalog=catalog, seed=2)
    fit = forecast.oracle_fit(sim, n_draws=20)
    seen = fit.design.driver_raw[:, fit.design.drivers.index("aid"), :]
    lo, hi = np.nanmin(seen), np.nanmax(seen)
    month = str(fit.panel.months[-1])

    def resolve(value, op="set"):
        Scenario.from_records([{"ally": "A01", "period": month, "signal": "aid",
                                "value": value, "op": op}]).resolve(fit, HORIZON)

    for value, op in ((hi + 9.9 * (hi - lo), "set"), (lo - 9.9 * (hi - lo), "set"),
                      (9.9 * (hi - lo), "add")):
        resolve(value, op)
    for value, op in ((1e23, "set"), (hi + 10.1 * (hi - lo), "set"),
                      (lo - 10.1 * (hi - lo), "set"), (-10.1 * (hi - lo), "add")):
        with pytest.raises(forecast.InputError, match="times the range of this driver"):
            resolve(value, op)


def test_every_bad_row_of_a_scenario_is_said_at_once(tmp_path):
    """A scenario with three bad rows said the first, and the next after it was fixed."""
    sim = forecast.simulate(n_allies=3, n_months=36, seed=1)
    fit = forecast.oracle_fit(sim, n_draws=20)
    path = tmp_path / "s.csv"
    path.write_text("ally,period,signal,value\nA00,2017-01,consultation_lapse,1\n"
                    "XYZ,2017-01,consultation_lapse,1\nA01,2017-02,exercise_tempo,1\n"
                    "A01,2030-01,consultation_lapse,1\n")
    with pytest.raises(forecast.InputError, match="unknown ally") as err:
        forecast.read_scenario(path).resolve(fit, 12)
    assert [(p.row, p.column) for p in err.value.problems] == [(3, "ally"), (4, "signal"),
                                                                (5, "period")]
    assert err.value.n_problems == 3
    path.write_text("ally,period,signal,value\nA00,2017-01,consultation_lapse,x\n"
                    "A01,2017-01,consultation_lapse,1\nA02,2017-01,consultation_lapse,y\n")
    with pytest.raises(forecast.InputError, match="expected a number") as err:
        forecast.read_scenario(path)
    assert [p.row for p in err.value.problems] == [2, 4]


def test_a_replaced_driver_value_is_said_observed_where_the_data_held_it(fit, tmp_path):
    """A scenario that set a lapse count in the run's own month printed the observed value it
    replaced like a drawn one: the change now says which it was, through a save and load too;
    where neither forecast records it (saved before it was kept) it is false throughout."""
    from forecast.forecasting import load_forecast
    from forecast.scenarios import driver_changes

    j = fit.design.drivers.index(DRIVER)
    seen = np.isfinite(fit.design.driver_raw[:, j, -1])
    allies = [a for a, s in zip(fit.design.allies, seen) if s]
    base = fit.forecast(horizon=HORIZON, seed=2)
    saved = load_forecast(base.save(tmp_path / "base.nc"))
    alt = fit.forecast(horizon=HORIZON, seed=2, scenario=_lapses(fit, ally=allies[0], n=9))
    for baseline in (base, saved):
        changed = driver_changes(baseline, alt)
        assert changed["period"].tolist() == _months(fit, (0, 1, 2))
        assert changed["observed"].tolist() == [True, False, False]
        # the observed month's baseline is the data's value in every draw
        assert changed["base"].iloc[0] == fit.design.driver_raw[
            list(fit.design.allies).index(allies[0]), j, -1]
    old, old_alt = (type(f)(f.draws.drop_vars("drivers_observed")) for f in (saved, alt))
    assert driver_changes(old, alt)["observed"].tolist() == [True, False, False]  # alt's
    assert not driver_changes(old, old_alt)["observed"].any()
