"""One test per input-validation case of DESIGN §2 (and the event log's own cases).

Each bad input must raise :class:`InputError` whose message names the file, the row (1-based line
number, header = line 1), the column, the value and what was expected. The base file below holds
one valid row per ally on lines 2-4, so a bad row appended to it is line 5.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from forecast.catalog import read_catalog
from forecast.errors import DataWarning, InputError
from forecast.events import events_to_observations
from forecast.loading import load_panel, read_observations

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG = FIXTURES / "signals.toml"
HEADER = "ally,period,signal,value,source"
BASE = [
    "JPN,2020-01,exercise_tempo,3,s",
    "KOR,2020-01,exercise_tempo,1,s",
    "PHL,2020-01,hedging,0,s",
]
EVENTS_HEADER = "date,ally,event_type,description,source"


def write_obs(tmp_path: Path, *rows: str, name: str = "obs.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *BASE, *rows]) + "\n", encoding="utf-8")
    return path


def write_events(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("\n".join([EVENTS_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def check(err: InputError, file: Path | str, row: int | None, column: str | None,
          value: object, *expected: str) -> None:
    """The error names the file, row, column and value, and says what was expected."""
    msg = str(err)
    assert err.file == str(file) and msg.startswith(str(file)), msg
    assert err.row == row, msg
    if row is not None:
        assert f"row {row}," in msg or f"row {row}:" in msg, msg
    assert err.column == column, msg
    if column is not None:  # a TOML file's place is a key
        kind = "key" if str(file).endswith(".toml") else "column"
        assert f"{kind} {column!r}" in msg, msg
    assert err.value == value, msg
    if value is not None:
        assert f"value {value!r}" in msg, msg
    for text in expected:
        assert text in msg, msg


def load_error(path: Path, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as info:
        load_panel(path, catalog=CATALOG, **kwargs)
    return info.value


# ---------------------------------------------------------------------- observations
def test_unknown_ally(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "KRO,2020-02,exercise_tempo,1,s")
    check(load_error(path), path, 5, "ally", "KRO",
          "unknown ally", "expected one of JPN, KOR, PHL", "did you mean 'KOR'?")


def test_an_unknown_ally_that_looks_known_says_why(tmp_path: Path) -> None:
    """A repeated header line (two files pasted together) and a code whose accent is a
    separate mark (as some tools write it) were told only "unknown ally: expected one of
    CÔT, …", the rejected value looking just like the one expected."""
    import unicodedata

    from forecast.errors import expected_one_of

    path = write_obs(tmp_path, HEADER)
    check(load_error(path), path, 5, "ally", "ally", "unknown ally",
          "(a header line repeated, as where two files were pasted together?)")
    composed = "C\u00d4T"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    said = expected_one_of(decomposed, [composed, "KOR"])
    assert "'CÔT' written with other Unicode code points" in said and "NFC" in said
    assert "code points" not in expected_one_of("KRO", [composed, "KOR"])


def test_unknown_signal(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "JPN,2020-02,exercise_temp,1,s")
    check(load_error(path), path, 5, "signal", "exercise_temp",
          "unknown signal", "expected one of exercise_tempo", "did you mean 'exercise_tempo'?")


def test_malformed_period(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "JPN,2020-13,exercise_tempo,1,s")
    err = load_error(path)
    assert str(err) == (f"{path}, row 5, column 'period', value '2020-13': malformed period for "
                        "monthly signal 'exercise_tempo': expected YYYY-MM")
    check(err, path, 5, "period", "2020-13")


@pytest.mark.parametrize(("signal", "frequency", "period", "year"), [
    ("exercise_tempo", "monthly", "3000-01", "3000"), ("meetings", "quarterly", "0999-Q4", "0999"),
    ("defense_spending", "annual", "9999", "9999"),
])
def test_a_period_of_a_year_the_package_does_not_read_says_so(
        tmp_path: Path, signal: str, frequency: str, period: str, year: str) -> None:
    """A period written right but for its year was called malformed, leaving the reader to
    find what was wrong with it."""
    path = write_obs(tmp_path, f"JPN,{period},{signal},1,s")
    err = load_error(path)
    check(err, path, 5, "period", period, f"period out of range for {frequency} signal "
          f"{signal!r}: year {year} is outside 1000 to 2999, the years the package reads")
    assert "malformed" not in str(err)


@pytest.mark.parametrize(("signal", "period", "meant"), [
    ("meetings", "2020Q2", "2020-Q2"),  # str() of a pandas quarter
    ("meetings", "2020-05-01", "2020-Q2"),  # a date: the quarter it falls in
    ("exercise_tempo", "2020-02-01 00:00:00", "2020-02"),  # a pandas Timestamp
    ("exercise_tempo", "2020/2", "2020-02"),
    ("exercise_tempo", "2020.10", "2020-10"),
    ("defense_spending", "2020.0", "2020"),  # a year read as a float
    ("defense_spending", "2020-01-01", "2020"),
])
def test_a_period_written_another_way_is_refused_with_its_meaning(
        tmp_path: Path, signal: str, period: str, meant: str) -> None:
    """A new user's first mistake: pandas writes a quarter as '2022Q2' and a date column as
    '2022-01-01'. The row is refused (the contract has one form), naming what was meant."""
    path = write_obs(tmp_path, f"JPN,{period},{signal},1,s")
    check(load_error(path), path, 5, "period", period, "malformed period",
          f"(did you mean {meant!r}?)")


@pytest.mark.parametrize(("signal", "period"), [
    ("exercise_tempo", "2020.1"),  # October read as a float as much as January
    ("exercise_tempo", "2020Q2"), ("meetings", "2020.0"),
    ("exercise_tempo", "2020-13-01"), ("exercise_tempo", "2020-02-32"), ("meetings", "2020Q5"),
    ("exercise_tempo", "2０20-02-01"),
])
def test_no_meaning_is_guessed_where_none_is_clear(tmp_path: Path, signal: str,
                                                   period: str) -> None:
    path = write_obs(tmp_path, f"JPN,{period},{signal},1,s")
    err = load_error(path)
    assert "did you mean" not in str(err) and err.row == 5, str(err)


@pytest.mark.parametrize("period", ["2０20-02", "２０２０-02", "2020-٠2"])
def test_a_period_in_other_digits_is_malformed(tmp_path: Path, period: str) -> None:
    """A regular expression's \\d matches any script's digits: '2０20-02' was a month."""
    path = write_obs(tmp_path, f"JPN,{period},exercise_tempo,1,s")
    check(load_error(path), path, 5, "period", period, "malformed period")


def test_duplicate_observation(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "JPN,2020-02,exercise_tempo,1,s", "JPN,2020-01,exercise_tempo,4,s")
    check(load_error(path), path, 6, "period", "2020-01",
          "duplicate observation of signal 'exercise_tempo' for ally 'JPN'",
          "already given in row 2", "expected one row per (ally, period, signal)")


def test_negative_count(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "KOR,2020-02,hedging,-1,s")
    check(load_error(path), path, 5, "value", "-1",
          "negative count for negbin signal 'hedging'", "expected a non-negative integer")


def test_fractional_count(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "KOR,2020-02,exercise_tempo,2.5,s")
    err = load_error(path)
    check(err, path, 5, "value", "2.5", "fractional count for poisson signal 'exercise_tempo'",
          "expected a non-negative integer")
    assert "the catalog's family" not in str(err)  # 1 of its 3 values


def test_a_count_signal_of_mostly_fractional_values_names_the_family(tmp_path: Path) -> None:
    """A measurement declared poisson gave one message per row (a user's trial: 213 rows of
    'fractional count') and none of them asked whether the family was right."""
    path = write_obs(tmp_path, "KOR,2020-02,exercise_tempo,2.5,s",
                     "JPN,2020-02,exercise_tempo,0.4,s", "JPN,2020-03,exercise_tempo,1.5,s")
    check(load_error(path), path, 5, "value", "2.5",
          "fractional count for poisson signal 'exercise_tempo': expected a non-negative "
          "integer (or the catalog's family: 3 of its 5 values are fractional; a measurement "
          'of any value is family = "normal")')


@pytest.mark.parametrize("signal, token", [("exercise_tempo", "1e20"),
                                           ("hedging", "9007199254740994")])
def test_a_count_too_large_to_hold_is_refused(tmp_path: Path, signal: str, token: str) -> None:
    """1e20 passed as a whole number and became -9223372036854775808 in the model's integer
    arrays; beyond 2**53 a float no longer counts one by one."""
    path = write_obs(tmp_path, f"KOR,2020-02,{signal},{token},s")
    check(load_error(path), path, 5, "value", token, "a count beyond 2**53 (9.01e+15)",
          "too large to count exactly")


def test_value_outside_family_support(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "KOR,2020-02,joint_statement,2,s")
    check(load_error(path), path, 5, "value", "2",
          "outside the support of bernoulli signal 'joint_statement'", "expected 0 or 1")


@pytest.mark.parametrize("token, reason", [
    ("nan", "NaN/missing marker is not a value"),
    ("NA", "NaN/missing marker is not a value"),
    ("", "missing value"),
    ("inf", "infinite value: expected a finite number"),
    ("-Infinity", "infinite value: expected a finite number"),
    ("1e999", "infinite value: expected a finite number"),
    # a normal signal's scale overflowed to inf and all its values became 0, without a word
    ("1e300", "a value beyond ±1e+100, too large to compute with"),
    ("-2e101", "a value beyond ±1e+100, too large to compute with"),
])
def test_nan_or_inf(tmp_path: Path, token: str, reason: str) -> None:
    path = write_obs(tmp_path, f"KOR,2020,defense_spending,{token},s")
    err = load_error(path)
    check(err, path, 5, "value", token, reason)
    if token.lower() in ("nan", "na", ""):
        assert "leave the row out if the value was not observed" in str(err)


@pytest.mark.parametrize("token", ["\"2,6\"", "３", "2.６", "٣"])
def test_not_a_number(tmp_path: Path, token: str) -> None:
    """Full-width and Arabic-Indic digits were read as numbers (float() accepts them), while
    the same digits in a period were refused."""
    path = write_obs(tmp_path, f"KOR,2020,defense_spending,{token},s")
    check(load_error(path), path, 5, "value", token.strip('"'),
          "not a number", "'.' as the decimal point")


@pytest.mark.parametrize("token, number", [("1.79%", "1.79"), ("\"2 %\"", "2")])
def test_a_percent_sign_is_named(tmp_path: Path, token: str, number: str) -> None:
    """``1.79%`` was told of a thousands separator (a new user's trial)."""
    path = write_obs(tmp_path, f"KOR,2020,defense_spending,{token},s")
    check(load_error(path), path, 5, "value", token.strip('"'),
          f"not a number: a percent sign; expected the number alone ({number} for "
          f"{token.strip(chr(34)).strip()}: the unit is the catalog's)")


@pytest.mark.parametrize("line, value, expected", [
    ("JPN,2020,exercise_tempo,1,s", "2020",
     "annual period for monthly signal 'exercise_tempo' (the catalog declares frequency = "
     "\"monthly\"): expected YYYY-MM"),
    ("JPN,2020-03,meetings,1,s", "2020-03",
     "monthly period for quarterly signal 'meetings' (the catalog declares frequency = "
     "\"quarterly\"): expected YYYY-Qn"),
    ("JPN,2020-Q1,defense_spending,1.5,s", "2020-Q1",
     "quarterly period for annual signal 'defense_spending'"),
])
def test_period_frequency_disagrees_with_catalog(tmp_path: Path, line: str, value: str,
                                                 expected: str) -> None:
    path = write_obs(tmp_path, line)
    check(load_error(path), path, 5, "period", value, expected)


@pytest.mark.parametrize("line, value, expected", [
    ("JPN,2020-07,exercise_tempo,1,s", "2020-07",
     "observation after the forecast month 2020-06: expected periods ending by 2020-06"),
    ("JPN,2020-Q3,meetings,1,s", "2020-Q3", "(quarter 2020-Q3 ends 2020-09)"),
    ("JPN,2020,defense_spending,1.5,s", "2020", "(year 2020 ends 2020-12)"),
])
def test_observation_after_forecast_month(tmp_path: Path, line: str, value: str,
                                          expected: str) -> None:
    path = write_obs(tmp_path, line)
    check(load_error(path, until="2020-06"), path, 5, "period", value, expected)


def test_malformed_forecast_month(tmp_path: Path) -> None:
    err = load_error(write_obs(tmp_path), until="2020-6")
    # an argument, not a column of a file
    assert str(err) == ("parameter 'until', value '2020-6': malformed forecast month: expected "
                        "YYYY-MM")
    # a month in form whose year the package does not read is said so, not "malformed"
    err = load_error(write_obs(tmp_path), until=" 0999-06")
    assert str(err) == ("parameter 'until', value ' 0999-06': forecast month out of range: year "
                        "0999 is outside 1000 to 2999, the years the package reads")


def test_ally_without_observations(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("\n".join([HEADER, *BASE[:2]]) + "\n", encoding="utf-8")
    check(load_error(path, events=False), path, None, "ally", "PHL",
          "listed in the catalog's [allies] but has no row in the observations",
          "expected at least one observation per ally")


def test_catalog_without_outcome(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('role = "outcome"', 'role = "indicator"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_panel(write_obs(tmp_path), catalog=cat)
    check(info.value, cat, None, "role", None,
          "exactly one signal with role = \"outcome\"", "found 0")


def test_a_quarterly_outcome_is_refused_in_english(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace(
        'role = "outcome"\nfamily = "negbin"\nfrequency = "monthly"',
        'role = "outcome"\nfamily = "negbin"\nfrequency = "quarterly"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="an outcome must be monthly"):  # was "a outcome"
        read_catalog(cat)


@pytest.mark.parametrize("key, typo, near", [("family", "negbin", "negbim"),
                                              ("frequency", "monthly", "montly"),
                                              ("role", "outcome", "Outcome")])
def test_a_misspelt_catalog_value_gets_the_nearest(tmp_path: Path, key, typo, near) -> None:
    """They listed the choices, but unlike allies, signals and keys named none."""
    text = CATALOG.read_text(encoding="utf-8").replace(f'{key} = "{typo}"', f'{key} = "{near}"',
                                                      1)
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=f"unknown {key}: expected one of .*did you mean "
                                         f"'{typo}'") as info:
        read_catalog(cat)
    assert info.value.value == near


@pytest.mark.parametrize("written, says", [
    ('"-1"', "expected sign = 1, -1 or 0 written as a number, not in quotes"),
    ("2", "expected sign = 1, -1 or 0"),
    ('"up"', "expected sign = 1, -1 or 0"),  # quotes are not what is wrong with it
])
def test_a_sign_in_quotes_is_told_apart_from_a_wrong_sign(tmp_path: Path, written, says) -> None:
    """``sign = "-1"`` was told "expected sign = 1, -1 or 0": what its writer had written."""
    text = CATALOG.read_text(encoding="utf-8").replace("sign = 1", f"sign = {written}", 1)
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_catalog(cat)
    assert info.value.reason == says


def test_the_command_line_horizon_goes_as_far_as_the_library() -> None:
    """``forecast run --horizon`` stopped at 36 while the docs and ``fit.forecast`` go to 60."""
    from forecast.cli import HORIZON_MAX
    from forecast.forecasting import MAX_HORIZON

    assert HORIZON_MAX == MAX_HORIZON


def test_a_capitalised_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("Ally,Period,Signal,Value,Source\n" + "\n".join(BASE) + "\n",
                    encoding="utf-8")
    check(load_error(path), path, 1, "ally", "Ally,Period,Signal,Value,Source",
          "missing required columns",
          "column names are lower case (did you mean 'ally' for 'Ally'?)")


def test_catalog_without_sign_fixing_indicator(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace("sign = 1\n", "sign = 0\n")
    text = text.replace("sign = -1\nunit = \"percent of GDP\"", "sign = 0\nunit = \"percent\"")
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_catalog(cat)
    check(info.value, cat, None, "sign", None,
          "at least one indicator needs sign = 1 or -1", "all indicators have sign = 0")


def test_catalog_and_spec_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    """Some Windows editors begin a UTF-8 file with a byte-order mark; the catalog and a spec
    file were refused as "not valid TOML ... at line 1, column 1"."""
    from forecast.datasets import default_paths
    from forecast.spec import load_spec

    cat = tmp_path / "signals.toml"
    cat.write_bytes(b"\xef\xbb\xbf" + CATALOG.read_bytes())
    assert read_catalog(cat).allies == read_catalog(CATALOG).allies
    spec = tmp_path / "mine.toml"
    spec.write_bytes(b"\xef\xbb\xbf" + (default_paths().models_dir / "default.toml").read_bytes())
    assert load_spec(spec).model_copy(update={"name": "default"}) == load_spec("default")


@pytest.mark.parametrize("written", [
    'JPN = "Japan"\nJPN = "Japon"',  # a key twice
    'JPN = "Japan"\n\n[allies]\nKOR = "Korea"',  # a table twice
])
def test_a_key_or_table_written_twice_is_said_so(tmp_path: Path, written: str) -> None:
    """tomllib says "Cannot overwrite a value" or "Cannot declare ... twice", naming neither
    a key nor a table."""
    cat = tmp_path / "signals.toml"
    cat.write_text(CATALOG.read_text(encoding="utf-8").replace('JPN = "Japan"', written, 1),
                   encoding="utf-8")
    with pytest.raises(InputError, match=r"^.*not valid TOML: .*: a key or table written "
                                         r"twice$"):
        read_catalog(cat)


def test_a_quote_never_closed_is_named_where_the_cell_outgrows_the_limit(tmp_path: Path) -> None:
    """The csv module's 'field larger than field limit (131072)' is, in a file written by hand,
    a double quote that was never closed and ran on to the end."""
    rows = [f'JPN,2020-{m:02d},exercise_tempo,1,"source {m}' if m == 2 else
            f"JPN,2020-{m:02d},exercise_tempo,1,s" for m in range(2, 13)]
    path = write_obs(tmp_path, *rows, *[f"KOR,{y}-01,exercise_tempo,1,{'x' * 200}"
                                        for y in range(2021, 2800)])
    err = load_error(path)
    assert "field larger than field limit" in str(err) and str(err).endswith(
        "where no cell is that long, a double quote never closed ran the rest of the file into "
        "one"), str(err)


def test_a_directory_for_a_catalog_or_spec_is_an_input_error(tmp_path: Path) -> None:
    """``load_panel(obs, catalog=some_dir)`` raised IsADirectoryError."""
    from forecast.errors import SpecError
    from forecast.spec import load_spec

    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(InputError) as info:
        load_panel(write_obs(tmp_path), catalog=tmp_path)
    check(info.value, tmp_path, None, None, None, "a folder, not a catalog file")
    with pytest.raises(SpecError, match="a folder, not a spec file"):
        load_spec(tmp_path / "dir.toml")


@pytest.mark.parametrize("content, row, expected", [
    ("", None, "the file is empty: expected a header line and data rows"),
    ("\n\n", None, "the file is empty"),
    (HEADER + "\n", 1, "the file has a header but no data rows"),
])
def test_empty_file(tmp_path: Path, content: str, row: int | None, expected: str) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(content, encoding="utf-8")
    check(load_error(path), path, row, None, None, expected)


def test_wrong_encoding(tmp_path: Path) -> None:
    text = "\n".join([HEADER, *BASE, "KOR,2020-02,exercise_tempo,1,Défense Ministry"]) + "\n"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("latin-1"))
    check(load_error(latin), latin, 5, "source", "D\\xe9fense Ministry",
          "not UTF-8 text: byte 0xE9", "expected UTF-8")
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(text.encode("utf-16"))
    check(load_error(utf16), utf16, 1, None, None,
          "the file is UTF-16 encoded", "expected UTF-8 text")


def test_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("ally,period,signal,amount\nJPN,2020-01,exercise_tempo,3\n", encoding="utf-8")
    check(load_error(path), path, 1, "value", "ally,period,signal,amount",
          "missing required column 'value'",
          "expected columns ally, period, signal, value (source optional)")


def test_a_semicolon_separated_file_is_named_at_its_header(tmp_path: Path) -> None:
    """A locale that writes decimal commas exports with ';', and its text cells hold commas:
    the first such row had been reported as having too many fields, not the header."""
    path = tmp_path / "obs.csv"
    path.write_text('ally;period;signal;value;source\nJPN;2020-01;exercise_tempo;1;a\n'
                    'JPN;2020-02;exercise_tempo;1;"Allen, Flynn"\n', encoding="utf-8")
    check(load_error(path), path, 1, "ally", "ally;period;signal;value;source",
          "the header is a single column: separate columns with commas")


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = tmp_path / "obs.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    check(load_error(path), path, None, None, None,
          "unreadable Parquet file", "expected a Parquet file")


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "KOR,2020-02,exercise_tempo,1,s,extra")
    err = load_error(path)
    check(err, path, 5, None, "KOR,2020-02,exercise_tempo,1,s,extra",
          "expected 5 fields (ally, period, signal, value, source), found 6")
    assert "decimal comma" not in str(err)


def test_a_number_split_by_an_unquoted_comma_is_named(tmp_path: Path) -> None:
    """``2,14`` unquoted (a decimal comma) gave only 'found 6 fields' where its quoted form
    was told what to write (a user's trial)."""
    path = write_obs(tmp_path, "KOR,2020,defense_spending,2,14,SIPRI")
    check(load_error(path), path, 5, None, "KOR,2020,defense_spending,2,14,SIPRI",
          "expected 5 fields (ally, period, signal, value, source), found 6: the value 2,14 "
          "reads as two fields (a decimal comma or a thousands separator): write 2.14 or 214 "
          "as the number is meant, or quote it")


def test_first_problem_in_file_order(tmp_path: Path) -> None:
    path = write_obs(tmp_path, "KOR,2020-02,exercise_tempo,-1,s", "XXX,2020-13,nope,x,s")
    err = load_error(path)
    check(err, path, 5, "value", "-1", "negative count")
    assert err.n_problems == 2
    assert [(p.row, p.column) for p in err.problems] == [(5, "value"), (6, "ally")]


def test_parquet_rows_are_record_numbers(tmp_path: Path) -> None:
    frame = pd.read_csv(write_obs(tmp_path, "KOR,2020-02,joint_statement,0.5,s"), dtype=str)
    path = tmp_path / "obs.parquet"
    frame.astype({"value": float}).to_parquet(path)
    check(load_error(path), path, 4, "value", "0.5", "bernoulli")


# ---------------------------------------------------------------------- event log
def events_error(tmp_path: Path, *rows: str, until: str | None = "2020-12") -> tuple[Path,
                                                                                     InputError]:
    path = write_events(tmp_path, *rows)
    with pytest.raises(InputError) as info:
        load_panel(write_obs(tmp_path), catalog=CATALOG, events=path, until=until)
    return path, info.value


def test_event_unknown_ally(tmp_path: Path) -> None:
    path, err = events_error(tmp_path, "2020-02-01,JPN,consultation_lapse,d,s",
                             "2020-02-03,jpn,consultation_lapse,d,s")
    check(err, path, 3, "ally", "jpn", "unknown ally", "did you mean 'JPN'?")


def test_event_unknown_type(tmp_path: Path) -> None:
    path, err = events_error(tmp_path, "2020-02-01,JPN,consulation_lapse,d,s")
    check(err, path, 2, "event_type", "consulation_lapse",
          "event type not mapped to any signal in the catalog",
          "expected one of consultation_lapse, unilateral_announcement")


@pytest.mark.parametrize("date, expected", [
    ("14/02/2020", "malformed date: expected YYYY-MM-DD or YYYY-MM"),
    ("2020-02-30", "not a calendar date"),
    ("", "missing date"),
    ("3020-02-14", "date out of range: year 3020 is outside 1000 to 2999"),  # not "malformed"
])
def test_event_bad_date(tmp_path: Path, date: str, expected: str) -> None:
    path, err = events_error(tmp_path, f"{date},KOR,consultation_lapse,d,s")
    check(err, path, 2, "date", date, expected)


def test_event_before_log_start(tmp_path: Path) -> None:
    path, err = events_error(tmp_path, "2019-12-31,KOR,consultation_lapse,d,s")
    check(err, path, 2, "date", "2019-12-31",
          "event before the event log's start month 2020-01", "expected dates from then on")


def test_event_after_forecast_month(tmp_path: Path) -> None:
    path, err = events_error(tmp_path, "2021-01-02,KOR,consultation_lapse,d,s")
    check(err, path, 2, "date", "2021-01-02",
          "event after the forecast month 2020-12", "expected dates up to 2020-12")


def test_event_after_log_end(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"',
                                                       'start = "2020-01"\nend = "2020-06"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    events = write_events(tmp_path, "2020-06-30,KOR,consultation_lapse,d,s",
                          "2020-07-01,KOR,consultation_lapse,d,s")
    with pytest.raises(InputError) as info:
        load_panel(write_obs(tmp_path), catalog=cat, events=events)
    check(info.value, events, 3, "date", "2020-07-01",
          "event after the event log's end month 2020-06 ([event_log] end in the catalog)",
          "expected dates up to then")


def test_event_log_end_before_start(tmp_path: Path) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"',
                                                       'start = "2020-01"\nend = "2019-12"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_catalog(cat)
    check(info.value, cat, None, "event_log.end", "2019-12",
          "end is before its start '2020-01'", "expected a month from the start on")


@pytest.mark.parametrize("month", ["0999-01", "2020-1", " 2020-01"])
def test_the_event_log_months_are_read_as_the_data_reads_months(tmp_path: Path,
                                                                month: str) -> None:
    """The catalog's months are those the data may hold (years 1000-2999, no spaces): the
    catalog had its own pattern, which took year 0999 that no data row can have."""
    text = CATALOG.read_text(encoding="utf-8").replace('start = "2020-01"',
                                                       f'start = "{month}"')
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_catalog(cat)
    check(info.value, cat, None, "event_log.start", month, "expected a month as YYYY-MM")
    assert ("year 0999 is outside 1000 to 2999" in str(info.value)) == (month == "0999-01")


def test_event_after_end(tmp_path: Path) -> None:
    path = write_events(tmp_path, "2020-03-02,KOR,consultation_lapse,d,s")
    with pytest.raises(InputError) as info:
        events_to_observations(path, CATALOG, end="2020-02")
    check(info.value, path, 2, "date", "2020-03-02", "event after the forecast month 2020-02")


def test_event_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("date,ally,type\n2020-02-01,JPN,consultation_lapse\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_panel(write_obs(tmp_path), catalog=CATALOG, events=path)
    check(info.value, path, 1, "event_type", "date,ally,type",
          "missing required column 'event_type'",
          "expected columns date, ally, event_type (description, source optional)")


def test_event_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(f"{EVENTS_HEADER}\n2020-02-01,JPN,consultation_lapse,Sommet annulé,s\n"
                     .encode("cp1252"))
    with pytest.raises(InputError) as info:
        load_panel(write_obs(tmp_path), catalog=CATALOG, events=path)
    check(info.value, path, 2, "description", "Sommet annul\\xe9", "not UTF-8 text")


def test_event_signal_also_in_observations(tmp_path: Path) -> None:
    obs = write_obs(tmp_path, "KOR,2020-02,consultation_lapse,1,s")
    events = write_events(tmp_path, "2020-02-01,KOR,consultation_lapse,d,s")
    with pytest.raises(InputError) as info:
        load_panel(obs, catalog=CATALOG, events=events)
    check(info.value, obs, 5, "signal", "consultation_lapse",
          "counted from the event log", "two sources of truth")
    # without an event log, pre-counted rows of that signal are ordinary observations
    assert read_observations(obs, CATALOG)["signal"].iloc[-1] == "consultation_lapse"


@pytest.mark.parametrize("events, expected", [
    ("3", "expected a list of event types"),
    ("true", "expected a list of event types"),
    ("{a = 1}", "expected a list of event types"),
    ('["consultation_lapse", "consultation_lapse"]', "listed twice in this signal's events"),
])
def test_catalog_events_must_be_a_list_of_names(tmp_path: Path, events: str,
                                                expected: str) -> None:
    text = CATALOG.read_text(encoding="utf-8")
    start = text.index("events = ")
    end = text.index("\n", start)
    cat = tmp_path / "signals.toml"
    cat.write_text(text[:start] + f"events = {events}" + text[end:], encoding="utf-8")
    with pytest.raises(InputError, match=expected) as info:
        read_catalog(cat)
    assert info.value.file == str(cat) and info.value.column.endswith(".events")


def test_every_input_error_carries_its_problems(tmp_path: Path) -> None:
    """``err.problems`` and ``err.n_problems`` (data contract §5) are there for a header or
    catalog error too, not only for row checks."""
    obs = tmp_path / "obs.csv"
    obs.write_text("ally,period,value\nJPN,2020-01,1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_panel(obs, catalog=CATALOG)
    assert info.value.n_problems == 1 and info.value.problems == (info.value,)


@pytest.mark.parametrize("old, new, column, hint", [
    ("drifts = true", "drift = true", "signals.exercise_tempo.drift", "did you mean 'drifts'?"),
    ('family = "poisson"', 'familly = "poisson"', ".familly", "did you mean 'family'?"),
    ("[signals.exercise_tempo]", "[signal.exercise_tempo]", "signal", "did you mean 'signals'?"),
    ('start = "2020-01"', 'begin = "2020-01"', "event_log.begin", "expected one of start, end"),
])
def test_catalog_unknown_keys_are_errors(tmp_path: Path, old: str, new: str, column: str,
                                         hint: str) -> None:
    """A misspelt key is refused with a suggestion, not ignored (``drift = true`` for
    ``drifts`` silently fitted a signal without drift)."""
    text = CATALOG.read_text(encoding="utf-8")
    if old == "drifts = true":  # the fixture marks no signal as drifting: add the typo
        text = text.replace("[signals.exercise_tempo]\n", "[signals.exercise_tempo]\n" + new
                            + "\n", 1)
    else:
        assert old in text
        text = text.replace(old, new, 1)
    cat = tmp_path / "signals.toml"
    cat.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="unknown key") as info:
        read_catalog(cat)
    assert hint in str(info.value) and info.value.column.endswith(column), str(info.value)


def test_an_event_pasted_twice_is_refused(tmp_path: Path) -> None:
    """It counted twice (JPN's month read 2 lapses for one). Rows without a description are
    not compared: nothing tells two such events of one day apart."""
    path, err = events_error(tmp_path, "2020-02-01,JPN,consultation_lapse,talks skipped,s",
                             "2020-02-03,KOR,consultation_lapse,other,s",
                             "2020-02-01,JPN,consultation_lapse,talks skipped,s")
    check(err, path, 4, "description", "talks skipped", "the same event as row 2",
          "counted twice")
    ok = write_events(tmp_path, "2020-02-01,JPN,consultation_lapse,,s",
                      "2020-02-01,JPN,consultation_lapse,,s",
                      "2020-02-01,JPN,consultation_lapse,talks skipped,s",
                      "2020-02-01,JPN,consultation_lapse,summit cancelled,s")
    with pytest.warns(DataWarning, match=r"row 3 \(as row 2\); each is counted") as said:
        panel = load_panel(write_obs(tmp_path), catalog=CATALOG, events=ok, until="2020-12")
    assert len(said) == 1 and "1 row repeats" in str(said[0].message)
    assert said[0].filename == __file__  # the caller's line, not the package's
    counts = panel.to_frame().query("ally == 'JPN' and signal == 'consultation_lapse' "
                                    "and period == '2020-02'")
    assert counts["value"].tolist() == [4.0]


@pytest.mark.parametrize("old, new, column, says", [
    ('JPN = "Japan"', '"JPN " = "Japan"', "allies", "an ally code with spaces around it"),
    ("[signals.exercise_tempo]", '[signals." exercise_tempo"]', "signals",
     "a signal name with spaces around it"),
    ("[signals.exercise_tempo]", "[signals.other]", "signals", "'other' is reserved"),
    ('JPN = "Japan"', 'JPN = " "', "allies", "CODE = \"Name\""),
    ('events = ["consultation_lapse",', 'events = ["consultation_lapse ",', ".events",
     "an event type with spaces around it"),
    # numpy's strings drop a trailing NUL: 'JPN\x00' in a cell passed as JPN, and a name
    # ending in one stopped the loading with a KeyError
    ('JPN = "Japan"', '"JPN\\u0000" = "Japan"', "allies",
     r"an ally code with a control character \(U\+0000\)"),
    ("[signals.exercise_tempo]", '[signals."exercise_tempo\\u0000"]', "signals",
     r"a signal name with a control character \(U\+0000\)"),
    ('events = ["consultation_lapse",', 'events = ["consultation\\u0007lapse",', ".events",
     r"an event type with a control character \(U\+0007\)"),
    # one that strip() takes for a space was said to be "with spaces around it"
    ('JPN = "Japan"', '"JPN\\u001f" = "Japan"', "allies",
     r"an ally code with a control character \(U\+001F\)"),
    ('JPN = "Japan"', 'JPN = "Ja\\u0000pan"', "allies.JPN",
     r"an ally's name with a control character \(U\+0000\).*missing glyph"),
])
def test_catalog_names_no_row_could_match_are_refused(tmp_path: Path, old: str, new: str,
                                                      column: str, says: str) -> None:
    """Data cells are read stripped, so a code written '"JPN " = ...' was refused in every
    row as an unknown ally ("did you mean 'JPN '?"); a signal named 'other' was listed twice
    in the attribution table, beside the part no signal explains."""
    cat = tmp_path / "signals.toml"
    cat.write_text(CATALOG.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError, match=says) as info:
        read_catalog(cat)
    assert info.value.column.endswith(column) and info.value.file == str(cat)


def test_a_catalog_text_that_is_not_text_is_refused(tmp_path: Path) -> None:
    """``unit = [1, 2]`` or a table as a description was kept as Python's str() of it, and
    shown so in the report."""
    for written in ("[1, 2]", "{ a = 1 }", "3"):
        cat = tmp_path / "signals.toml"
        cat.write_text(CATALOG.read_text(encoding="utf-8").replace(
            'unit = "percent of GDP"', f"unit = {written}", 1), encoding="utf-8")
        with pytest.raises(InputError, match="expected text in quotes") as info:
            read_catalog(cat)
        assert info.value.column == "signals.defense_spending.unit"


def test_a_cell_ending_in_a_nul_is_not_read_as_the_name_before_it() -> None:
    """numpy's fixed-width strings drop a trailing NUL: a Parquet cell 'JPN\\x00' was read as
    JPN, and another ally's row became Japan's."""
    frame = pd.read_csv(io.StringIO("\n".join([HEADER, *BASE])), dtype=str)
    frame.loc[1, "ally"] = "KOR\x00"
    with pytest.raises(InputError, match="unknown ally.*did you mean 'KOR'") as info:
        load_panel(frame, catalog=CATALOG)
    assert info.value.row == 2 and info.value.value == "KOR\x00"  # a frame counts from 1


def test_a_long_value_is_not_shown_whole() -> None:
    """A 2 MB cell made a 2 MB message."""
    said = str(InputError("not a number", file="obs.csv", row=2, column="value",
                          value="7" * 2_000_000))
    assert len(said) < 300 and said.endswith("… (2,000,002 characters): not a number"), said


def test_a_toml_files_problem_is_at_a_key_not_a_column(tmp_path):
    """A catalog's problem said ``column 'signals.x.famly'``: a TOML file has keys."""
    path = tmp_path / "signals.toml"
    path.write_text('[allies]\nJPN = "Japan"\n\n[signals.x]\nrole = "indicator"\n'
                    'famly = "poisson"\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_catalog(path)
    assert str(err.value).startswith(f"{path}, key 'signals.x.famly'"), str(err.value)
    csv = InputError("unknown ally", file="obs.csv", row=3, column="ally")
    assert str(csv) == "obs.csv, row 3, column 'ally': unknown ally"


@pytest.mark.parametrize("key, written, meant", [
    ("frequency", "yearly", "annual"), ("frequency", "Quarter", "quarterly"),
    ("family", "gaussian", "normal"), ("family", "negative_binomial", "negbin"),
    ("family", "binary", "bernoulli")])
def test_a_family_or_frequency_by_another_name_is_named(tmp_path, key, written, meant):
    """``frequency = "yearly"`` was "unknown frequency: expected one of monthly, quarterly,
    annual" with no suggestion: no spelling of "annual" is near "yearly"."""
    table = {"role": "indicator", "family": "poisson", "frequency": "monthly", "sign": 1}
    table[key] = written
    body = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in table.items())
    path = tmp_path / "signals.toml"
    path.write_text(f'[allies]\nJPN = "Japan"\n\n[signals.x]\n{body}\n', encoding="utf-8")
    with pytest.raises(InputError, match=f"unknown {key}: expected one of .* \\(did you mean "
                       f"'{meant}'\\?\\)"):
        read_catalog(path)
