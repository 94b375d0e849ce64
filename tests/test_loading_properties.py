"""Property tests of loading: valid frames round-trip; corrupted files raise InputError only."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.catalog import read_catalog
from forecast.errors import DataWarning, InputError
from forecast.events import events_to_observations
from forecast.loading import load_panel
from forecast.panel import Panel

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG_PATH = FIXTURES / "signals.toml"
CATALOG = read_catalog(CATALOG_PATH)
ALLIES = list(CATALOG.allies)
MONTHS = [f"{y}-{m:02d}" for y in (2020, 2021) for m in range(1, 13)]
PERIODS = {
    "monthly": MONTHS,
    "quarterly": [f"{y}-Q{q}" for y in (2020, 2021) for q in range(1, 5)],
    "annual": ["2020", "2021"],
}
PATTERNS = {"monthly": r"[12]\d{3}-(0[1-9]|1[0-2])", "quarterly": r"[12]\d{3}-Q[1-4]",
            "annual": r"[12]\d{3}"}
NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
# FORECAST_FUZZ_EXAMPLES=5000 for a deep run; the default keeps the suite fast
FAST = settings(max_examples=int(os.environ.get("FORECAST_FUZZ_EXAMPLES", "30")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HALF = settings(FAST, max_examples=max(1, FAST.max_examples // 2))  # two loads per example


def values_for(family: str) -> st.SearchStrategy[float]:
    if family in ("poisson", "negbin"):
        return st.integers(0, 500).map(float)
    if family == "bernoulli":
        return st.sampled_from([0.0, 1.0])
    return st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def long_frames(draw: st.DrawFn) -> pd.DataFrame:
    """A valid long table for the fixture catalog, every ally observed, rows shuffled."""
    rows: dict[tuple[str, str, str], float] = {}
    for name, spec in CATALOG.signals.items():
        cells = draw(st.sets(st.tuples(st.sampled_from(ALLIES),
                                       st.sampled_from(PERIODS[spec.frequency])), max_size=12))
        for ally, period in cells:
            rows[(ally, period, name)] = draw(values_for(spec.family))
    for ally in ALLIES:
        month = draw(st.sampled_from(MONTHS))
        rows.setdefault((ally, month, "hedging"), float(draw(st.integers(0, 9))))
    frame = pd.DataFrame([(a, p, s, v) for (a, p, s), v in rows.items()],
                         columns=["ally", "period", "signal", "value"])
    order = draw(st.permutations(range(len(frame))))
    frame = frame.iloc[list(order)].reset_index(drop=True)
    frame["source"] = draw(st.sampled_from(["", "SIPRI", "news, 2020"]))
    return frame


def to_csv_text(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # quotes cells holding \r or \n
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        writer.writerow([repr(v) if isinstance(v, float) else v for v in row])
    return buf.getvalue()


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return (frame[["ally", "period", "signal", "value"]]
            .astype({"ally": str, "period": str, "signal": str, "value": float})
            .sort_values(["signal", "ally", "period"]).reset_index(drop=True))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


@HALF
@given(frame=long_frames())
def test_valid_long_frames_round_trip(workdir: Path, frame: pd.DataFrame) -> None:
    path = workdir / "obs.csv"
    path.write_text(to_csv_text(frame), encoding="utf-8")
    # a drawn frame may hold a signal that never changes within an ally: a DataWarning, the
    # same from either format
    with warnings.catch_warnings(record=True) as from_csv:
        warnings.simplefilter("always")
        panel = load_panel(path, catalog=CATALOG, events=False)  # the fixture's log is not here
    pd.testing.assert_frame_equal(canonical(panel.to_frame()), canonical(frame))
    parquet = workdir / "obs.parquet"
    frame.to_parquet(parquet)
    with warnings.catch_warnings(record=True) as from_pq:
        warnings.simplefilter("always")
        from_parquet = load_panel(parquet, catalog=CATALOG, events=False)
    assert [(w.category, str(w.message)) for w in from_pq] == [
        (w.category, str(w.message)) for w in from_csv]
    for name, sig in panel.signals.items():
        np.testing.assert_array_equal(sig.values, from_parquet.signals[name].values)
    assert panel.months.equals(from_parquet.months)


def _valid_value(text: str, family: str) -> bool:
    t = text.strip()
    if not re.fullmatch(NUMBER, t):
        return False
    v = float(t)
    if not math.isfinite(v):
        return False
    if family in ("poisson", "negbin"):
        return v >= 0 and v == round(v)
    return v in (0.0, 1.0) if family == "bernoulli" else True


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[pd.DataFrame, int, str]:
    """A valid frame with one cell made invalid; returns the frame, its row and the column."""
    frame = draw(long_frames())
    i = draw(st.integers(0, len(frame) - 1))
    column = draw(st.sampled_from(["ally", "period", "signal", "value"]))
    spec = CATALOG.signals[frame.at[i, "signal"]]
    junk = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
    if column == "ally":
        bad = draw(junk.filter(lambda t: t.strip() not in CATALOG.allies))
    elif column == "signal":
        bad = draw(junk.filter(lambda t: t.strip() not in CATALOG.signals))
    elif column == "period":
        tokens = st.sampled_from(["2020-13", "2020-00", "20-01", "2020-Q5", "2020Q1", "2020-1",
                                  "1850", "2020-01-01", "Q1-2020"]) | junk
        bad = draw(tokens.filter(
            lambda t: not re.fullmatch(PATTERNS[spec.frequency], t.strip())))
    else:
        tokens = st.sampled_from(["-1", "0.5", "2", "nan", "NA", "inf", "-inf", "1e999", "",
                                  "1,5", "3 apples"]) | st.floats().map(repr) | junk
        bad = draw(tokens.filter(lambda t: not _valid_value(t, spec.family)))
    frame = frame.astype({"value": object})
    frame.at[i, column] = bad
    return frame, i, column


@FAST
@given(case=corruptions())
def test_invalid_cell_names_its_row(workdir: Path, case: tuple[pd.DataFrame, int, str]) -> None:
    frame, i, column = case
    path = workdir / "bad.csv"
    text = to_csv_text(frame)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_panel(path, catalog=CATALOG)
    # line of record i: header is line 1; quoted cells may span lines
    line = 2 + i + sum(len(re.findall(r"\r\n|\r|\n", str(frame.iat[j, k])))
                       for j in range(i) for k in range(frame.shape[1]))
    assert info.value.row == line, str(info.value)
    assert info.value.column == column, str(info.value)


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for pos, drop, insert in edits:
        pos = pos % (len(data) + 1)
        data = data[:pos] + insert + data[pos + drop:]
    return data


EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=6)),
                 min_size=1, max_size=4)


def _load_or_input_error(path: Path, **kwargs: object) -> None:
    try:
        result = load_panel(path, catalog=CATALOG, **kwargs)
    except InputError:
        return
    assert isinstance(result, Panel)


@FAST
@given(edits=EDITS, until=st.sampled_from([None, "2020-12", "2020-06"]))
def test_corrupted_csv_bytes_raise_input_error_only(workdir: Path,
                                                    edits: list[tuple[int, int, bytes]],
                                                    until: str | None) -> None:
    path = workdir / "mutated.csv"
    path.write_bytes(_mutate((FIXTURES / "observations.csv").read_bytes(), edits))
    _load_or_input_error(path, events=FIXTURES / "events.csv", until=until)


@FAST
@given(edits=EDITS)
def test_corrupted_event_log_raises_input_error_only(workdir: Path,
                                                     edits: list[tuple[int, int, bytes]]) -> None:
    path = workdir / "events.csv"
    path.write_bytes(_mutate((FIXTURES / "events.csv").read_bytes(), edits))
    _load_or_input_error(FIXTURES / "observations.csv", events=path)


@FAST
@given(edits=EDITS)
def test_corrupted_parquet_raises_input_error_only(workdir: Path,
                                                   edits: list[tuple[int, int, bytes]]) -> None:
    clean = workdir / "clean.parquet"
    if not clean.exists():
        pd.read_csv(FIXTURES / "observations.csv", dtype=str).to_parquet(clean)
    path = workdir / "mutated.parquet"
    path.write_bytes(_mutate(clean.read_bytes(), edits))
    _load_or_input_error(path)


@FAST
@given(events=st.lists(st.tuples(st.sampled_from(ALLIES), st.sampled_from(MONTHS),
                                 st.integers(1, 28),
                                 st.sampled_from(sorted(CATALOG.event_types))), max_size=30))
def test_event_counts_add_up(events: list[tuple[str, str, int, str]]) -> None:
    log = pd.DataFrame([(f"{m}-{d:02d}", a, t) for a, m, d, t in events],
                       columns=["date", "ally", "event_type"])
    # rows alike without a description are each counted, and warned of
    repeats = len(events) - len(set(events))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", DataWarning)
        counts = events_to_observations(log, CATALOG, end="2021-12")
    doubts = [str(w.message) for w in said if issubclass(w.category, DataWarning)]
    assert len(doubts) == (1 if repeats else 0)
    assert not repeats or (f"{repeats} rows repeat" if repeats > 1 else "1 row repeats") in \
        doubts[0]
    assert len(counts) == len(ALLIES) * len(MONTHS)  # every covered month observed
    assert counts["value"].sum() == len(events)
    for ally in ALLIES:
        assert counts.loc[counts.ally == ally, "value"].sum() == sum(a == ally for a, *_ in events)
