"""The run registry: naming, atomic publication, idempotency, revisions, lock, stale staging."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest

from forecast.errors import InputError
from forecast.manifest import (
    InputFile,
    RunSettings,
    fingerprint,
    git_commit,
    input_key,
    sha256_file,
)
from forecast.runs import (
    LOCK_NAME,
    STAGING_NAME,
    PublishedRun,
    Registry,
    RegistryBusy,
    parse_run_name,
    run_name,
)


def _stage_files(path: Path, key: str, content: str = "x", data: str | None = None) -> None:
    """A run's files; ``data`` stands for its observations' SHA-256 in the manifest."""
    (path / "forecast.csv").write_text(content)
    inputs = {"inputs": {"observations": {"sha256": data}}} if data else {}
    (path / "manifest.json").write_text(json.dumps({"input_key": key, **inputs}))


def _publish(reg: Registry, month: str, key: str, content: str = "x", data: str | None = None):
    with reg.staging(month) as staged:
        _stage_files(staged, key, content, data)
        return reg.publish(staged, month, key)


def _published_state(root: Path) -> dict[str, str]:
    """Every published file and its hash (the registry as a reader sees it)."""
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0].startswith(".")}


def _mp():
    """Children started afresh, not forked: a worker of the suite may have started threads
    (JAX's, numba's, PyMC's samplers') before these tests, and a fork copies their locks in
    whatever state they are. A fresh child imports the registry alone (under a second)."""
    return mp.get_context("spawn")


# ---------------------------------------------------------------------- names
def test_run_names_round_trip():
    for month, rev in [("2026-03", 1), ("2026-03", 2), ("1999-12", 17)]:
        assert parse_run_name(run_name(month, rev)) == (month, rev)


@pytest.mark.parametrize("name", ["2026-13", "2026-03-r1", "2026-03-r0", "runs", ".staging",
                                  "2026-03-r", "2026-3"])
def test_non_run_names_are_ignored(name):
    assert parse_run_name(name) is None


def test_directory_without_manifest_is_not_a_run(tmp_path):
    (tmp_path / "2026-03").mkdir()
    assert Registry(tmp_path).runs() == []


# ---------------------------------------------------------------------- publish
def test_publish_moves_staging_into_place(tmp_path):
    reg = Registry(tmp_path / "runs")
    pub = _publish(reg, "2026-03", "k1")
    assert pub.published
    assert pub.run.path == tmp_path / "runs" / "2026-03"
    assert (pub.run.path / "forecast.csv").read_text() == "x"
    assert [p.name for p in (tmp_path / "runs" / STAGING_NAME).iterdir()] == []


@pytest.mark.parametrize("content", [["notes.txt"], []])
def test_a_stray_directory_in_the_way_is_an_input_error(tmp_path, content):
    """A directory with a run's name that is not a run (a copy, a leftover) is refused with a
    message, not replaced (empty) or a traceback (not empty), and left as it was."""
    from forecast.errors import InputError

    reg = Registry(tmp_path)
    stray = tmp_path / "2026-03"
    stray.mkdir()
    for name in content:
        (stray / name).write_text("mine")
    with pytest.raises(InputError, match="not a published run"):
        reg.check_free("2026-03")
    with pytest.raises(InputError, match="not a published run"):
        _publish(reg, "2026-03", "k1")
    assert sorted(p.name for p in stray.iterdir()) == content
    reg.check_free("2026-04")


def test_identical_key_is_a_noop(tmp_path):
    reg = Registry(tmp_path)
    first = _publish(reg, "2026-03", "k1")
    before = _published_state(tmp_path)
    again = _publish(reg, "2026-03", "k1", content="different bytes, same key")
    assert not again.published
    assert again.run.path == first.run.path
    assert _published_state(tmp_path) == before


def test_inputs_of_an_older_revision_are_published_again_as_the_newest(tmp_path):
    """Data corrected (r2), then the correction undone: the rerun with the first inputs was a
    no-op that pointed at r1, so r2, inputs the analyst had abandoned, stayed the month's
    latest run and next month's baseline."""
    reg = Registry(tmp_path)
    _publish(reg, "2026-03", "a", data="A")
    _publish(reg, "2026-03", "b", data="B")
    assert reg.find_identical("2026-03", "a") is None
    again = _publish(reg, "2026-03", "a", data="A")
    assert again.published and again.run.name == "2026-03-r3"
    assert reg.latest("2026-03").name == reg.previous("2026-04").name == "2026-03-r3"
    assert not _publish(reg, "2026-03", "a", data="A").published  # now the newest: a no-op


def test_a_rerun_after_a_smoke_test_of_the_same_data_is_a_noop(tmp_path):
    """Matching only the newest revision made the production run's identical rerun (from
    cron, say) refit for minutes and publish a copy of r1 once a smoke test or another spec
    had been published from the same data."""
    reg = Registry(tmp_path)
    first = _publish(reg, "2026-03", "prod", data="A").run
    _mark(_publish(reg, "2026-03", "smoke", data="A").run, settings={"preset": "quick"})
    _publish(reg, "2026-03", "static", data="A")
    again = _publish(reg, "2026-03", "prod", data="A")
    assert not again.published and again.run.name == first.name
    assert reg.find_identical("2026-03", "smoke").name == "2026-03-r2"


def test_a_revision_whose_data_were_corrected_is_no_baseline(tmp_path):
    """r1 made as production runs, then a correction of the month's data published with
    fewer draws: the rule that prefers a run made alike chose r1, the data before the
    correction, and said nothing."""
    prod = {"spec_name": "default", "spec_hash": "d", "sampler": "nutpie", "chains": 4,
            "draws": 1000}
    reg = Registry(tmp_path)
    _mark(_publish(reg, "2026-03", "a", data="A").run, settings=prod)
    _mark(_publish(reg, "2026-03", "b", data="B").run, settings={**prod, "draws": 500})
    chosen = reg.previous("2026-04", like=prod)
    assert chosen.name == "2026-03-r2"
    assert chosen.differences(prod) == ["4 × 500 draws, not 4 × 1000"]
    assert reg.reference().name == "2026-03-r2"
    # a forced correction: the month's sound revision holds data since corrected, so the
    # baseline is the month before, not the uncorrected one
    _publish(reg, "2026-02", "z", data="Z")
    _mark(_publish(reg, "2026-03", "c", data="C").run, forced=True)
    chosen = reg.previous("2026-04", like=prod)
    assert chosen.name == "2026-02"
    # and the month passed over is said (the change spans two months)
    assert reg.gap("2026-04", chosen) == ("a change over 2 months, from 2026-02: passed over "
                                          "2026-03 (every revision of its current data forced "
                                          "or quick)")
    assert reg.gap("2026-03", reg.previous("2026-03")) is None
    (tmp_path / "2026-01-r7").mkdir()  # a run folder without a manifest, before the baseline
    (tmp_path / "2026-05").mkdir()  # and one after it
    assert reg.gap("2026-07", reg.previous("2026-07", like=prod)) == (
        "a change over 5 months, from 2026-02: passed over 2026-03 (every revision of its "
        "current data forced or quick), 2026-05 (no readable run)")
    # in date order: an unreadable month before a forced one was named after it
    _mark(_publish(reg, "2026-06", "f", data="F").run, forced=True)
    (tmp_path / "2026-04").mkdir()
    assert reg.gap("2026-07", reg.previous("2026-07", like=prod)).endswith(
        "passed over 2026-03 (every revision of its current data forced or quick), 2026-04 (no "
        "readable run), 2026-05 (no readable run), 2026-06 (every revision of its current data "
        "forced or quick)")
    for malformed in ("2026-7", " 2026-07"):  # spaces matched no month between
        with pytest.raises(InputError, match="malformed month"):
            reg.gap(malformed, chosen)


def test_changed_key_makes_a_new_revision(tmp_path):
    reg = Registry(tmp_path)
    _publish(reg, "2026-03", "k1")
    second = _publish(reg, "2026-03", "k2")
    third = _publish(reg, "2026-03", "k3")
    assert (second.run.name, third.run.name) == ("2026-03-r2", "2026-03-r3")
    assert [r.revision for r in reg.runs("2026-03")] == [1, 2, 3]
    assert reg.latest("2026-03").name == "2026-03-r3"
    assert (tmp_path / "2026-03" / "forecast.csv").read_text() == "x"  # never overwritten


def test_previous_is_latest_revision_of_an_earlier_month(tmp_path):
    reg = Registry(tmp_path)
    _publish(reg, "2026-01", "a")
    _publish(reg, "2026-02", "b")
    _publish(reg, "2026-02", "c")
    _publish(reg, "2026-03", "d")
    assert reg.previous("2026-03").name == "2026-02-r2"
    assert reg.previous("2026-02").name == "2026-01"
    assert reg.previous("2026-01") is None


def _mark(run, **manifest) -> None:
    path = run.path / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **manifest}))


def test_a_forced_or_quick_run_is_not_the_baseline_while_a_sound_one_is_there(tmp_path):
    """A forced quick smoke test published after a converged run became "last month" for the
    next run's changes, and the scenario command's baseline, without a word."""
    reg = Registry(tmp_path)
    _publish(reg, "2026-03", "a")
    sound = _publish(reg, "2026-04", "b").run
    _mark(_publish(reg, "2026-04", "c").run, forced=True, settings={"preset": "quick"})
    assert reg.previous("2026-05").name == sound.name == "2026-04"
    assert reg.reference().name == "2026-04"
    assert reg.latest().name == "2026-04-r2"  # the newest is still listed as such
    assert reg.runs("2026-04")[-1].caveats == ["FORCED: not converged", "quick preset"]
    # with no sound run before it, the newest is the baseline, and says what it is
    only = Registry(tmp_path / "only")
    _mark(_publish(only, "2026-04", "d").run, forced=True)
    assert only.previous("2026-05").caveats == ["FORCED: not converged"]


def test_an_experiment_made_otherwise_is_not_the_baseline_while_a_like_run_is_there(tmp_path):
    """A run with another spec, or a tiny custom run that passed the gate, published into the
    registry after the production run became next month's baseline without a caveat, so its
    change since last month mixed a change of model with the change of data."""
    prod = {"spec_name": "default", "spec_hash": "d", "sampler": "nutpie", "chains": 4,
            "draws": 1000}
    reg = Registry(tmp_path)
    _mark(_publish(reg, "2026-03", "a").run, settings=prod)
    _mark(_publish(reg, "2026-03", "b").run, settings={**prod, "spec_name": "static",
                                                       "spec_hash": "s"})
    _mark(_publish(reg, "2026-03", "c").run, settings={**prod, "chains": 2, "draws": 50})
    assert reg.previous("2026-04").name == "2026-03-r3"  # with nothing to compare: the newest
    assert reg.previous("2026-04", like=prod).name == "2026-03"
    static = {**prod, "spec_name": "static", "spec_hash": "s"}
    assert reg.previous("2026-04", like=static).name == "2026-03-r2"
    # with no run made alike, the newest of those made most alike, and what differs is said:
    # every one has another spec, and r3 fewer draws as well
    other = {**prod, "spec_name": "unpooled", "spec_hash": "u"}
    chosen = reg.previous("2026-04", like=other)
    assert chosen.name == "2026-03-r2"
    assert chosen.differences(other) == ["spec static, not unpooled"]
    assert reg.runs("2026-03")[-1].differences(other) == ["spec default, not unpooled",
                                                          "2 × 50 draws, not 4 × 1000"]
    assert reg.previous("2026-04", like=prod).differences(prod) == []
    # only within the newest month: a run made alike a year earlier is no "last month"
    older = Registry(tmp_path / "older")
    _mark(_publish(older, "2025-04", "a").run, settings=static)
    _mark(_publish(older, "2026-03", "b").run, settings=prod)
    assert older.previous("2026-04", like=static).name == "2026-03"
    assert older.previous("2026-04", like=static).differences(static) == [
        "spec default, not static"]
    edited = {**prod, "spec_hash": "d2"}  # the same spec's file, edited since
    assert older.previous("2026-04", like=edited).differences(edited) == [
        "spec default with other settings"]


def test_the_baseline_is_the_revision_made_most_alike(tmp_path):
    """With no revision made alike, the newest was taken: an experiment with another spec
    published after the month's sound run with fewer draws became the baseline, and a
    revision forecast 2 months ahead, beside a full one of the same data, left the next
    month's report without its change in P(hedging within 3 months)."""
    prod = {"spec_name": "default", "spec_hash": "d", "sampler": "nutpie", "chains": 4,
            "draws": 1000, "horizon": 12}
    reg = Registry(tmp_path)
    _mark(_publish(reg, "2026-03", "a").run, settings={**prod, "draws": 500})
    _mark(_publish(reg, "2026-03", "b").run, settings={**prod, "spec_name": "static",
                                                       "spec_hash": "s"})
    chosen = reg.previous("2026-04", like=prod)
    assert chosen.name == "2026-03"  # the same spec with fewer draws, not another spec
    assert chosen.differences(prod) == ["4 × 500 draws, not 4 × 1000"]
    short = Registry(tmp_path / "short")
    _mark(_publish(short, "2026-03", "a").run, settings=prod)
    _mark(_publish(short, "2026-03", "b").run, settings={**prod, "horizon": 2})
    assert short.previous("2026-04", like=prod).name == "2026-03"
    # a run itself forecast 2 months ahead compares 2 months: a 2-month baseline is alike
    assert short.previous("2026-04", like={**prod, "horizon": 2}).name == "2026-03-r2"
    # a horizon of 3 or more gives the 3 months compared: the newest, as before
    _mark(_publish(short, "2026-03", "c").run, settings={**prod, "horizon": 6})
    assert short.previous("2026-04", like=prod).name == "2026-03-r3"


def test_finalize_runs_under_lock_with_the_revision(tmp_path):
    reg = Registry(tmp_path)
    _publish(reg, "2026-03", "k1")
    seen = []

    def finalize(staged: Path, revision: int) -> None:
        seen.append(revision)
        (staged / "revision.txt").write_text(str(revision))

    with reg.staging("2026-03") as staged:
        _stage_files(staged, "k2")
        pub = reg.publish(staged, "2026-03", "k2", finalize)
    assert seen == [2]
    assert (pub.run.path / "revision.txt").read_text() == "2"


def test_failure_inside_staging_leaves_registry_unchanged(tmp_path):
    reg = Registry(tmp_path)
    _publish(reg, "2026-02", "a")
    before = _published_state(tmp_path)
    with pytest.raises(OSError):
        with reg.staging("2026-03") as staged:
            _stage_files(staged, "b")
            raise OSError(28, "No space left on device")
    assert _published_state(tmp_path) == before
    assert list((tmp_path / STAGING_NAME).iterdir()) == []


# ---------------------------------------------------------------------- lock
def test_lock_times_out_with_registry_busy(tmp_path):
    from filelock import FileLock

    reg = Registry(tmp_path, lock_timeout=0.2)
    held = FileLock(tmp_path / LOCK_NAME, thread_local=False)
    held.acquire()
    try:
        with pytest.raises(RegistryBusy, match="locked by another run"):
            with reg.lock():
                pass
    finally:
        held.release()


def _publisher(root: str, key: str, barrier) -> None:
    reg = Registry(root)
    with reg.staging("2026-03") as staged:
        _stage_files(staged, key, content=key * 1000)
        barrier.wait()
        reg.publish(staged, "2026-03", key)


def test_concurrent_publications_get_distinct_revisions(tmp_path):
    ctx = _mp()
    n = 4
    barrier = ctx.Barrier(n)
    procs = [ctx.Process(target=_publisher, args=(str(tmp_path), f"k{i}", barrier))
             for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    runs = Registry(tmp_path).runs("2026-03")
    assert sorted(r.revision for r in runs) == [1, 2, 3, 4]
    assert sorted(r.input_key for r in runs) == [f"k{i}" for i in range(n)]
    for r in runs:  # each directory holds exactly its own run's files
        assert (r.path / "forecast.csv").read_text() == r.input_key * 1000


def test_concurrent_identical_publications_publish_once(tmp_path):
    ctx = _mp()
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_publisher, args=(str(tmp_path), "same", barrier))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert [r.name for r in Registry(tmp_path).runs()] == ["2026-03"]


# ---------------------------------------------------------------------- stale staging
def _stage_and_wait(root: str, conn) -> None:
    with Registry(root).staging("2026-03") as staged:
        (staged / "big.bin").write_bytes(b"0" * 1000)
        conn.send(str(staged))
        time.sleep(60)


def test_staging_of_a_killed_process_is_cleaned(tmp_path):
    ctx = _mp()
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_stage_and_wait, args=(str(tmp_path), child))
    proc.start()
    assert parent.poll(60)
    staged = Path(parent.recv())
    assert staged.is_dir()
    reg = Registry(tmp_path)
    assert reg.clean_stale() == []  # alive: left alone
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert staged.is_dir()  # kill -9 cannot clean up ...
    assert reg.runs() == []  # ... but nothing was published
    assert reg.clean_stale() == [staged.name]  # and the next run removes it
    assert not staged.exists()


# ---------------------------------------------------------------------- manifest helpers
def test_input_key_depends_on_content_not_path(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "obs.csv").write_text("1")
    (b / "obs.csv").write_text("1")
    s = RunSettings(month="2026-03", spec_name="default", spec_hash="h", seed=1)
    ka = input_key(fingerprint({"observations": a / "obs.csv"}), s, "0.1")
    kb = input_key(fingerprint({"observations": b / "obs.csv"}), s, "0.1")
    assert ka == kb
    (b / "obs.csv").write_text("2")
    assert input_key(fingerprint({"observations": b / "obs.csv"}), s, "0.1") != ka
    s2 = RunSettings(month="2026-03", spec_name="default", spec_hash="h", seed=2)
    assert input_key(fingerprint({"observations": a / "obs.csv"}), s2, "0.1") != ka


def test_input_file_fingerprint(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"abc")
    f = InputFile.of("observations", p)
    assert f.bytes == 3 and f.sha256.startswith("ba7816bf")
    assert f.to_dict()["path"] == str(p.resolve())


def test_published_run_reads_manifest(tmp_path):
    reg = Registry(tmp_path)
    pub = _publish(reg, "2026-03", "k")
    run = PublishedRun.read(pub.run.path)
    assert run.input_key == "k" and run.month == "2026-03" and run.revision == 1


def test_git_commit_is_the_packages_checkout_only(tmp_path):
    """The manifest's commit is that of a checkout that tracks the package; a wheel installed
    in a virtual environment inside another project's checkout has none (it had that
    project's HEAD)."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    site = tmp_path / ".venv" / "lib" / "site-packages"
    (site / "forecast").mkdir(parents=True)
    (site / "forecast" / "__init__.py").write_text("")
    (tmp_path / "forecast").mkdir()
    (tmp_path / "forecast" / "__init__.py").write_text("")
    git("add", ".gitignore", "forecast/__init__.py")
    git("commit", "-q", "-m", "x")
    assert git_commit(site) is None
    mine = git_commit(tmp_path)
    assert mine is not None and len(mine["commit"]) == 40 and mine["dirty"] is False
    (tmp_path / "forecast" / "__init__.py").write_text("x = 1\n")
    assert git_commit(tmp_path)["dirty"] is True


# ---------------------------------------------------------------------- damaged manifests
_BAD_MANIFESTS = {
    "truncated": '{"input_key": "k", "settings": {"pre',
    "null": "null",
    "list": "[]",
    "settings-null": '{"input_key": "k", "settings": null}',
    "settings-string": '{"input_key": "k", "settings": "x"}',
}


@pytest.mark.parametrize("text", list(_BAD_MANIFESTS.values()), ids=list(_BAD_MANIFESTS))
def test_a_manifest_that_is_not_an_object_is_treated_like_a_truncated_one(tmp_path, text):
    """A manifest of ``null`` or ``[]``, or whose settings were not an object, crashed every
    reader of the registry (``forecast list``, ``scenario``, ``run``). Like a truncated one
    (the first case, unchanged), its run is not listed, is no baseline, is a directory in
    the way of publication, and is named by :meth:`Registry.unreadable`."""
    from typer.testing import CliRunner

    from forecast.cli import app
    from forecast.errors import InputError

    reg = Registry(tmp_path)
    _publish(reg, "2026-02", "k")
    bad = tmp_path / "2026-03"
    bad.mkdir()
    (bad / "manifest.json").write_text(text)
    assert PublishedRun.read(bad) is None
    assert [r.name for r in reg.runs()] == ["2026-02"]
    assert reg.find_identical("2026-03", "k") is None
    assert reg.reference().name == reg.previous("2026-04").name == "2026-02"
    with pytest.raises(InputError, match="not a published run"):
        reg.check_free("2026-03")
    result = CliRunner().invoke(app, ["list", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "2026-02" in result.output, result.output
    assert [u.name for u in reg.unreadable()] == ["2026-03"]
    # the listing names the run it leaves out, and why
    said = " ".join(result.output.split())
    assert "warning: 2026-03 is not listed:" in said and "manifest.json" in said, said


@pytest.mark.parametrize("edit", [{"forced": "true"}, {"forced": "false"}, {"converged": "no"},
                                  {"settings": {"draws": "1000"}}, {"settings": {"chains": True}},
                                  {"input_key": 7}], ids=str)
def test_a_key_the_registry_reads_in_another_type_makes_the_run_unreadable(tmp_path, edit):
    """``"forced": "true"`` (a string) read as not forced: ``forecast list`` showed the run
    as sound and ``forecast scenario`` chose it as its baseline, while the report refused
    the same manifest. Now it is left out and named, as a truncated manifest is."""
    from forecast.errors import InputError

    reg = Registry(tmp_path)
    _publish(reg, "2026-02", "k")
    _publish(reg, "2026-03", "k3")
    manifest = tmp_path / "2026-03" / "manifest.json"
    data = json.loads(manifest.read_text())
    for key, value in edit.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    manifest.write_text(json.dumps(data))
    with pytest.raises(InputError, match="expected (true or false|text|a whole number) for "):
        PublishedRun.load(tmp_path / "2026-03")
    assert [r.name for r in reg.runs()] == ["2026-02"]
    assert reg.reference().name == "2026-02"
    assert [u.name for u in reg.unreadable()] == ["2026-03"]


def test_list_reads_only_what_a_manifest_says_plainly(tmp_path):
    """A ``run_on`` entry without its draws crashed ``forecast list`` with KeyError, and a
    manifest that says nothing of convergence was listed as converged."""
    from typer.testing import CliRunner

    from forecast.cli import app

    reg = Registry(tmp_path)
    _publish(reg, "2026-02", "k")
    manifest = tmp_path / "2026-02" / "manifest.json"
    data = json.loads(manifest.read_text())
    data.update(forced=False, converged=True, run_on={"first_draws": 1000})
    manifest.write_text(json.dumps(data))
    assert reg.runs()[0].forced is False
    result = CliRunner().invoke(app, ["list", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "converged" in result.output and "(run on)" in result.output
    assert "not recorded" not in result.output
    manifest.write_text(json.dumps({"input_key": "k"}))
    result = CliRunner().invoke(app, ["list", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "not recorded" in result.output, result.output
    assert "converged" not in result.output
    # a hand-edited preset is shown as written, not read as Rich markup
    manifest.write_text(json.dumps({"input_key": "k", "settings": {"preset": "[b]x"}}))
    result = CliRunner().invoke(app, ["list", "--out", str(tmp_path)])
    assert result.exit_code == 0 and "[b]x" in result.output, result.output


def test_unreadable_run_directories_are_named_with_the_reason(tmp_path):
    """A run directory whose manifest could not be read was hidden without a word
    (``forecast list`` said there was no run); the registry now names it and says why."""
    reg = Registry(tmp_path)
    _publish(reg, "2026-02", "k")
    for name in ("2026-03", "2026-04", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "2026-03" / "manifest.json").write_text('{"input_key": "k", "sett')
    (tmp_path / "notes" / "manifest.json").write_text("null")  # not a run's name: not a run
    # a file with a run's name is no run either, and stops that month's publication
    (tmp_path / "2026-05").write_text("a file, not a directory")
    bad = reg.unreadable()
    assert [(u.name, u.path) for u in bad] == [("2026-03", tmp_path / "2026-03"),
                                               ("2026-04", tmp_path / "2026-04"),
                                               ("2026-05", tmp_path / "2026-05")]
    assert "not a folder" in bad[2].reason
    assert bad[0].reason.startswith(f"{tmp_path / '2026-03' / 'manifest.json'}: unreadable JSON")
    assert bad[1].reason.endswith("no manifest.json")
    assert [u.name for u in reg.unreadable("2026-04")] == ["2026-04"]
    assert reg.unreadable("2026-02") == [] == Registry(tmp_path / "none").unreadable()
    assert [r.name for r in reg.runs()] == ["2026-02"]


def test_a_run_folder_that_cannot_be_searched_is_named_not_fatal(tmp_path, refuse_path):
    """A run folder at chmod 000 stopped ``forecast list`` and ``forecast scenario`` for the
    whole registry with Permission denied; it is left out and named like an unreadable
    manifest. (Root ignores chmod, so the refusal is the file system's error, raised here.)"""
    reg = Registry(tmp_path)
    _publish(reg, "2026-03", "k")
    (tmp_path / "2026-02").mkdir()
    shut = tmp_path / "2026-02" / "manifest.json"
    refuse_path("is_file", lambda path: path == shut)
    assert [r.name for r in reg.runs()] == ["2026-03"]
    assert reg.reference().name == "2026-03"
    [bad] = reg.unreadable()
    assert bad.name == "2026-02" and bad.reason.endswith("cannot be read (Permission denied)")
