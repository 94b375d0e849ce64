"""The ``forecast`` command line (also ``python -m forecast``).

Exit codes: 0 done (including "nothing to do"), 2 invalid input (a one-paragraph message that
names the file, row and problem; no traceback), 3 the fit did not converge and was not
published, 1 anything else. Progress goes to stderr and only when it is a terminal; results go
to stdout.

Examples
--------
.. code-block:: console

    $ forecast run                      # latest month of the embedded data → runs/<month>/
    $ forecast run --month 2026-03 --data mydata/ --out runs/
    $ forecast validate --data mydata/
    $ forecast list
    $ forecast report runs/2026-03
    $ forecast scenario lapse.toml      # against the newest run neither forced nor quick
    $ forecast backtest --count 4 --every 6 --output backtest/
"""

from __future__ import annotations

import errno
import re
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from forecast.errors import SAMPLER_MOST, InputError, shortlist
from forecast.monthly import (
    DEFAULT,
    EXIT_ERROR,
    EXIT_INPUT,
    EXIT_OK,
    QUICK,
    RunOutcome,
    RunRequest,
    check_month,
    check_not_ahead,
    data_warnings,
    load_inputs,
    resolve_inputs,
    run_month,
)
from forecast.runs import (
    LOCK_NAME,
    MANIFEST,
    STAGING_NAME,
    PublishedRun,
    Registry,
    RegistryBusy,
    own_manifest,
    parse_run_name,
)

#: the longest --horizon: :data:`forecast.forecasting.MAX_HORIZON`, written out because the
#: command line starts without importing the forecasting layer (a test holds them equal)
HORIZON_MAX = 60

__all__ = ["app", "RichProgress", "main"]


class _FlagHelp:
    """Lists a command's ``--help`` as the flag it is: typer gives click's own help option the
    type ``<bool>``, which reads as if it took a value."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = _FLAG
        return option


class _Command(_FlagHelp, typer.core.TyperCommand):
    """A command of :data:`app`."""


class _Group(_FlagHelp, typer.core.TyperGroup):
    """The command group :data:`app`."""


app = typer.Typer(
    cls=_Group,
    name="forecast",
    help="Bayesian forecasts of U.S. alliance credibility and allies' hedging.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

#: the type column of a flag's help: empty (typer shows "<bool>", which reads as if the flag
#: took a value)
_FLAG = ""


def _given_path(value: "str | Path") -> Path:
    """A path option's value, refused when empty: ``Path("")`` is the current directory,
    which a user who typed ``--data ''`` (an unset variable) did not mean."""
    if not str(value).strip():
        raise typer.BadParameter("an empty path: expected a directory ('.' for the current "
                                 "one)")
    return Path(value)


DataOpt = Annotated[Optional[Path], typer.Option(
    "--data", help="Directory with observations.csv (or .parquet, .pq), signals.toml and optionally "
    "events.csv (or .parquet, .pq). Default: the embedded dataset (the repository's data/, "
    "or the installed package's copy).", parser=_given_path)]
OutOpt = Annotated[Path, typer.Option("--out", help="Run registry directory.",
                                      parser=_given_path)]
SpecOpt = Annotated[str, typer.Option(help="Shipped spec name or path to a spec .toml.")]


def _presets(size: str) -> str:
    """The default and quick presets' value of a sampler size, as run's --help shows it."""
    return f"{DEFAULT[size]}, --quick {QUICK[size]}"


# ---------------------------------------------------------------------- output helpers
def _consoles() -> tuple[Console, Console]:
    """(stdout, stderr) consoles; colour and live displays only on terminals, and wide
    enough off a terminal that tables are not cut (logs, pipes)."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=160)
    if not err.is_terminal:
        err = Console(stderr=True, highlight=False, width=160)
    return out, err


class RichProgress:
    """Stage progress on a terminal (spinner, then a tick with the stage's time); silent
    elsewhere. The sampler draws its own per-chain progress bar when enabled.

    Examples
    --------
    >>> from rich.console import Console
    >>> p = RichProgress(Console(file=open("/dev/null", "w")), enabled=False)
    >>> with p.stage("fit"):
    ...     pass
    """

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self.sampler_progress = enabled

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        if not self.enabled:
            yield
            return
        label = f"[bold]{name}[/]" + (f" [dim]{detail}[/]" if detail else "")
        t0 = time.perf_counter()
        try:
            if name in ("fit", "fit_longer") and self.sampler_progress:
                self.console.print(f"  {label} … [dim](compiling, then sampling)[/]")
                yield  # nutpie draws its own progress bar; no second live display
                self.console.print()  # the sampler's bar leaves the cursor on its last line
            else:
                with self.console.status(label):
                    yield
        except BaseException:
            self.console.print(f"[red]✗[/] {label}")
            raise
        self.console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - t0:.1f} s)[/]")

    def note(self, message: str) -> None:
        if self.enabled:  # quantity names from the data: "[kor]" would be read as markup
            self.console.print(_escape(message), soft_wrap=True)

    def warning(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {_escape(message)}", soft_wrap=True)


#: problems of a file printed after the first (``InputError.problems`` holds up to 50)
MORE_PROBLEMS = 4


def _option_names() -> frozenset[str]:
    """The long options of every command, without their dashes (``month``, ``run``, ...).

    A library error that names one of them as its parameter is said to a command-line user as
    the option they typed. Read from the commands themselves, so that an option added to a
    command is named so without a list to keep.

    Examples
    --------
    >>> {"month", "run", "output"} <= _option_names()
    True
    """
    from typer.main import get_command

    return frozenset(option[2:] for command in get_command(app).commands.values()
                     for param in command.params for option in param.opts
                     if option.startswith("--"))


def _as_option(exc: InputError) -> str:
    """``exc``'s message, with a library parameter that is one of the commands' options named
    as the option (``parameter 'month'`` → ``option '--month'``).

    Examples
    --------
    >>> _as_option(InputError("malformed month", parameter="month", value="2026-3"))
    "option '--month', value '2026-3': malformed month"
    >>> _as_option(InputError("expected a Fit", parameter="fit"))
    "parameter 'fit': expected a Fit"
    """
    text = str(exc)
    if exc.parameter in _option_names():
        text = text.replace(f"parameter {exc.parameter!r}", f"option '--{exc.parameter}'", 1)
    return text


def _guarded(body: Callable[[], int]) -> None:
    """Run a command body and turn its outcome into an exit code.

    ``InputError`` → 2 with its message only; ``RegistryBusy`` and an ``OSError`` of a file
    system that refused (:data:`REFUSALS`) → 1 with its message; Ctrl-C → 130; any other
    exception → 1 with the traceback (that is a bug).
    """
    _, err = _consoles()
    try:
        code = body()
    except InputError as exc:
        err.print(f"[bold red]error:[/] {_escape(_as_option(exc))}", soft_wrap=True)
        # the next few, so that a mistake made in many rows is seen as one in a single run
        further = exc.problems[1:1 + MORE_PROBLEMS]
        for problem in further:
            text = str(problem)
            if problem.file is not None and text.startswith(f"{problem.file}, "):
                text = text[len(problem.file) + 2:]  # the file was named above
            err.print(f"  also: {_escape(text)}", soft_wrap=True)
        extra = exc.n_problems - 1 - len(further)
        if extra > 0:
            err.print(f"({extra} more row(s) with problems; fix these and rerun)",
                      soft_wrap=True)
        code = EXIT_INPUT
    except RegistryBusy as exc:
        err.print(f"[bold red]error:[/] {_escape(str(exc))}", soft_wrap=True)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted; nothing was published")
        code = 130
    except typer.Exit:
        raise
    except OSError as exc:
        if exc.errno in REFUSALS:
            # the file system refused (permissions, a full disk, a read-only --out): not a
            # bug, so no traceback; the message names the path where the system gives it
            err.print(f"[bold red]error:[/] {_escape(str(exc))} (the file system refused: "
                      "check the path, its permissions and the free space)", soft_wrap=True)
        else:  # any other OSError may be a bug
            _bug(err, exc)
        code = EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        _bug(err, exc)
        code = EXIT_ERROR
    raise typer.Exit(code)


#: errno values of a file system that refuses a path, a write or a folder: permissions,
#: read-only, full, over quota, a path that is not there, a file where a folder must be (or
#: the reverse), a name too long. Any other OSError is reported with its traceback.
REFUSALS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                      errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                      errno.ENAMETOOLONG})


def _bug(err: Console, exc: BaseException) -> None:
    """An exception nobody planned for: its message and traceback (that is a bug)."""
    err.print(f"[bold red]error:[/] {type(exc).__name__}: {_escape(str(exc))}",
              soft_wrap=True)
    traceback.print_exception(exc, file=sys.stderr)


def _check_output(path: Path | None, run: Path | None = None) -> None:
    """An ``--output`` file must be writable where asked: its folder exists, it is no folder,
    and it is not inside ``run`` (the run the command reads) or any published run. Checked
    before any work, so a typo costs nothing."""
    if path is None:
        return
    if path.is_dir():
        raise InputError("--output must be a file, not a directory", file=str(path))
    if not path.parent.is_dir():
        # the nearest folder above that exists in some form: a file there is no folder
        taken = next((p for p in path.parents if p.exists()), None)
        if taken is not None and not taken.is_dir():
            raise InputError(f"--output's directory {taken} is a file, not a directory",
                             file=str(path))
        raise InputError("--output's directory does not exist", file=str(path))
    _refuse_inside_a_run(path, run)


def _refuse_inside_a_run(path: Path, run: Path | None = None) -> None:
    """An ``--output`` path inside ``run`` (the run the command reads) or any published run,
    or standing where a run of a registry would be published, is refused: a run's files are
    never changed."""
    mine = run.resolve() if run is not None else None
    for folder in path.resolve().parents:
        try:
            # a run: a run's name and a manifest, readable or not (other projects' folders
            # hold manifest.json files too, not under a run's name)
            in_a_run = folder == mine or (parse_run_name(folder.name) is not None
                                          and (folder / MANIFEST).is_file())
        except OSError:  # a folder above that cannot be searched holds no run of ours
            in_a_run = False
        if in_a_run:
            raise InputError(f"--output is inside the run {folder}: a run's files are never "
                             "changed (forecast report re-renders its report.html without "
                             "--output); expected a path outside it", file=str(path))
    if parse_run_name(path.name) is not None and _is_registry(path.parent):
        raise InputError(f"--output has a run's name in the registry {path.parent}: the file "
                         "would stand where that month's run is published, and stop its "
                         "publication; expected another name", file=str(path))


def _is_registry(folder: Path) -> bool:
    """Whether ``folder`` is a run registry: it holds a run folder (a run's name), or the lock
    or staging area a monthly run leaves in it."""
    try:
        return any((folder / name).exists() for name in (LOCK_NAME, STAGING_NAME)) or any(
            parse_run_name(p.name) is not None for p in folder.iterdir() if p.is_dir())
    except OSError:  # a folder that cannot be listed is none of ours to protect
        return False


#: control characters other than newline and tab: written to a terminal from data (a
#: scenario's name, a file name) they would move the cursor or recolour the screen
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(text: str) -> str:
    """``text`` as printed on the terminal: Rich's markup escaped, control characters shown
    by their code (``\\x1b``) rather than obeyed.

    Examples
    --------
    >>> print(_escape("[red]\x1b[31mKOR"))
    \\[red]\\x1b[31mKOR
    """
    from rich.markup import escape

    return escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def _version_callback(value: bool) -> None:
    if value:
        from forecast import __version__

        typer.echo(f"forecast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, metavar=_FLAG,
                                          is_eager=True, help="Show the version and exit.")]
    = False,
) -> None:
    """Bayesian forecasts of U.S. alliance credibility and allies' hedging."""


# ---------------------------------------------------------------------- run
@app.command(cls=_Command)
def run(
    month: Annotated[Optional[str], typer.Option(
        help="Forecast origin YYYY-MM, not after the current month: data after it are an "
        "error (it does not cut the data). Default: the last month of the data.")] = None,
    data: DataOpt = None,
    out: OutOpt = Path("runs"),
    spec: SpecOpt = "default",
    scenario: Annotated[Optional[Path], typer.Option(
        help="Scenario file, forecast beside the baseline.", dir_okay=False)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", metavar=_FLAG, help=f"Small sampler preset ({QUICK['chains']} chains × "
        f"{QUICK['draws']} draws) for smoke tests; the run "
        "is labelled quick (custom if --draws/--tune/--chains change its sizes). Its fit usually "
        "fails the gate: add --force to publish it.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", metavar=_FLAG, help="Publish even if the fit fails the convergence checks (the run is "
        "marked as forced).")] = False,
    # the ranges are the library's (forecast.errors), shown in --help and checked by typer
    draws: Annotated[Optional[int], typer.Option(
        help=f"Draws per chain (overrides the preset's: {_presets('draws')}).",
        min=1, max=SAMPLER_MOST["draws"])] = None,
    tune: Annotated[Optional[int], typer.Option(
        help=f"Tuning steps per chain (overrides the preset's: {_presets('tune')}; a "
        "published run is always tuned).", min=1, max=SAMPLER_MOST["tune"])] = None,
    chains: Annotated[Optional[int], typer.Option(
        help=f"Number of chains (overrides the preset's: {_presets('chains')}; at least 2 "
        "unless --force: R-hat compares chains).",
        min=1, max=SAMPLER_MOST["chains"])] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Random seed, 0 to 2^64 - 1. Default: the month as a number (2026-03 → 202603).",
        min=0)] = None,  # its most, 2^64 - 1, is the library's to say: a wide column here
    sampler: Annotated[str, typer.Option(help="nutpie, pymc, numpyro (needs the optional 'gpu' extra) or advi (a preview: never passes the convergence checks, so it publishes only with --force).")] = "nutpie",
    horizon: Annotated[int, typer.Option(help="Months to forecast.", min=1,
                                         max=HORIZON_MAX)] = 12,
) -> None:
    """Validate → fit → forecast → report → publish one month's run.

    The run is written to a staging directory and published as OUT/YYYY-MM (OUT/YYYY-MM-rN
    for a later revision with changed inputs) by one atomic rename. Identical inputs: nothing
    to do. A fit that fails the convergence checks is not published (exit code 3) unless
    --force. Exit codes: 0 ok, 2 invalid input, 3 not converged, 130 interrupted (143 by
    SIGTERM), 1 other.
    """
    def body() -> int:
        _, err = _consoles()
        tty = err.is_terminal
        request = RunRequest(month=month, data=data, out=out, spec=spec, scenario=scenario,
                             quick=quick, force=force, draws=draws, tune=tune, chains=chains,
                             seed=seed, sampler=sampler, horizon=horizon)
        outcome = run_month(request, RichProgress(err, enabled=tty))
        try:
            _print_outcome(outcome)
        except (KeyboardInterrupt, SystemExit) as stop:
            # a Ctrl-C (or SIGTERM) while the outcome is printed, on a full pipe say, or a
            # reader that closed stdout (Rich exits 1 on a broken pipe): a run published, or
            # already published, is so all the same, so it must not read "nothing was
            # published" nor exit as failed
            if outcome.exit_code != 0:
                raise
            how = "interrupted" if isinstance(stop, KeyboardInterrupt) else "output closed"
            err.print(f"{how} after its publication: the run is published" if
                      outcome.status == "published" else f"{how}: the month's inputs were "
                      "already published; nothing to do", soft_wrap=True)
        return outcome.exit_code

    _guarded(body)


def _print_outcome(outcome: "RunOutcome") -> None:
    """What a finished ``forecast run`` says: its message (on stdout, or on stderr with the
    worst quantities for a refused fit) and a published run's headline and report's path."""
    stdout, err = _consoles()
    if outcome.status == "not_converged":
        err.print(f"[bold red]not converged:[/] {_escape(outcome.message)}", soft_wrap=True)
        if outcome.diagnostics is not None:
            worst = ", ".join(w["quantity"] for w in outcome.diagnostics.worst[:6])
            err.print(f"worst quantities: {_escape(worst)}", soft_wrap=True)
    else:
        stdout.print(_escape(outcome.message), soft_wrap=True)
        if outcome.status == "published" and outcome.run is not None:
            try:
                stdout.print(_headline_table(outcome.run.path))
            except (InputError, OSError) as exc:  # published all the same: no failure
                stdout.print(f"(its headline could not be read back: {_escape(str(exc))})",
                             soft_wrap=True)
            stdout.print(f"report: {_escape(str(outcome.run.path / 'report.html'))}",
                         soft_wrap=True)


#: the colour of a change told from the posterior's noise (the report's colours)
_CHANGE_STYLE = {"up": "green", "down": "red"}


def _headline_table(run_dir: Path) -> Table:
    """A published run's headline, as its report shows it: where it stands, without opening
    the report. A change told from the posterior's noise is coloured and marked ``*`` (a log
    has no colour).

    Raises
    ------
    forecast.InputError
        Where the run cannot be read (:func:`forecast.report.read_run`).
    """
    from forecast.monthly import HEADLINE_HORIZONS, TREND_MONTHS, TREND_PROB
    from forecast.report import headline_rows, read_run, run_horizon

    run = read_run(run_dir)
    horizons = "/".join(str(h) for h in HEADLINE_HORIZONS)
    told = "p_rose" in run.headline
    horizon, beyond = run_horizon(run)  # beyond it shown "–": said why
    # no vertical rules: it fits an 80-column terminal
    table = Table(title=f"Headline, {_escape(str(run.manifest.get('month', '')))}",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  caption_justify="left",
                  caption="change: since the previous run"
                          + (f" (*: this fit puts ≥ {TREND_PROB:.0%} on credibility having "
                             "moved that way since)" if told else "")
                          + f"; trend: P(rose over {TREND_MONTHS} months); P: of hedging "
                            f"within {horizons} months; ΔP 3 mo: that within 3 months' change "
                            "since the previous run"
                          + (f"; this run forecast {horizon} month{'s' if horizon > 1 else ''} "
                             f"ahead: P within {' and '.join(map(str, beyond))} months is beyond it (–)"
                             if beyond else ""))
    for col in ("ally", "credibility", "90% interval", "change", "trend",
                f"P {horizons} mo", "ΔP 3 mo"):
        table.add_column(col, justify="left" if col == "ally" else "right", no_wrap=True)
    for r in headline_rows(run):
        style = _CHANGE_STYLE.get(r["change_class"], "")
        change = r["change"] + ("*" if r["told"] else "")
        table.add_row(_escape(r["ally"]), r["credibility"], r["interval"],
                      f"[{style}]{change}[/]" if style else change,
                      f"{r['arrow']} {r['p_up']}", f"{r['p1']} {r['p3']} {r['p12']}",
                      r["p3_change"])
    return table


# ---------------------------------------------------------------------- validate
@app.command(cls=_Command)
def validate(
    data: DataOpt = None,
    month: Annotated[Optional[str], typer.Option(
        help="Forecast month YYYY-MM, not after the current month: data after it are an "
        "error.")] = None,
    spec: SpecOpt = "default",
) -> None:
    """Check observations, catalog and event log, and that the spec can be fitted to them
    (every signal it uses observed); print a data-coverage summary."""
    def body() -> int:
        inputs = resolve_inputs(data, spec)
        notes: list[str] = []
        panel, _ = load_inputs(inputs, month, notes=notes)
        out, _ = _consoles()
        cov = panel.coverage()
        table = Table(title=f"Coverage: share of periods observed, {panel.months[0]} to "
                            f"{panel.months[-1]}", title_justify="left")
        table.add_column("signal")
        table.add_column("role")
        table.add_column("freq")
        for ally in panel.allies:
            table.add_column(_escape(ally), justify="right")
        for name, sub in cov.groupby("signal", sort=False):
            shares = dict(zip(sub["ally"], sub["share_observed"]))
            table.add_row(_escape(str(name)), str(sub["role"].iloc[0]),
                          str(sub["frequency"].iloc[0]),
                          *[f"{shares.get(a, 0.0):.0%}" for a in panel.allies])
        out.print(table)
        said = [*notes, *data_warnings(panel)]
        for warning in said:
            out.print(f"[yellow]warning:[/] {_escape(warning)}", soft_wrap=True)
        if month is None:  # `forecast run` would refuse data that run past today
            check_not_ahead(panel.last_month, data=inputs.observations,
                            catalog=inputs.catalog, panel=panel, said_above=True)
        n_obs = sum(s.n_observed for s in panel.signals.values())
        heed = f" ({len(said)} warning{'s' if len(said) > 1 else ''} above)" if said else ""
        out.print(f"OK{heed}: {panel.n_allies} allies, {len(panel.signals)} signals, "
                  f"{panel.n_months} months ({panel.months[0]} to {panel.months[-1]}), "
                  f"{n_obs} observed values; files: {_escape(str(inputs.observations))}, "
                  f"{_escape(str(inputs.catalog))}"
                  + (f", {_escape(str(inputs.events))}" if inputs.events else ""),
                  soft_wrap=True)
        return EXIT_OK

    _guarded(body)


# ---------------------------------------------------------------------- report
@app.command(cls=_Command)
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory, e.g. runs/2026-03.",
                                            file_okay=False, metavar="RUN_DIR")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the HTML here instead of RUN_DIR/report.html.")] = None,
) -> None:
    """Re-render a run's report.html from the files in its directory."""
    from forecast.report import run_manifest, write_report

    def body() -> int:
        out, _ = _consoles()
        run_manifest(run_dir)  # not a run: said as such, before anything about --output
        # the run's own report.html, named: as without --output
        target = None if output is not None and run_dir.is_dir() and \
            output.resolve() == (run_dir / "report.html").resolve() else output
        _check_output(target, run_dir)
        published = PublishedRun.read(run_dir) is not None
        if published and target is None:
            with Registry(run_dir.parent).lock():
                path = write_report(run_dir)
        else:
            path = write_report(run_dir, target)
        out.print(f"report: {_escape(str(path))}", soft_wrap=True)
        return EXIT_OK

    _guarded(body)


# ---------------------------------------------------------------------- list
@app.command("list", cls=_Command)
def list_runs(
    out: OutOpt = Path("runs"),
    month: Annotated[Optional[str], typer.Option(help="Only this month YYYY-MM.")] = None,
) -> None:
    """List the published runs of a registry."""
    def body() -> int:
        from forecast.runfiles import (OUTPUTS_OF_RUN, RUN_WRITES, SCENARIO_WRITES, WALK_WRITES,
                                       altered_outputs, missing_outputs, unlisted_outputs)

        console, _ = _consoles()
        if month is not None:
            check_month(month)
        registry = Registry(out)  # a file there, or a run's own folder: its own error
        if not out.is_dir():
            raise InputError("no such registry directory: expected --out DIR, the folder "
                             "forecast run published into (runs/ by default; its first run "
                             "creates it)", file=str(out))
        runs = registry.runs(month)
        failed = registry.failed(month)
        refused = (f"{len(failed)} refused run(s) kept in {_escape(str(failed[0].parent))}"
                   if failed else "")
        # a directory with a run's name but no readable manifest is no run, and blocks a
        # run of its month: say so rather than leave it out without a word
        for broken in registry.unreadable(month):
            console.print(f"[yellow]warning:[/] {_escape(broken.name)} is not listed: "
                          f"{_escape(broken.reason)}", soft_wrap=True)
        if not runs:
            others = len(registry.runs()) if month is not None else 0
            console.print(f"no published runs{f' of {month}' if month else ''} in "
                          f"{_escape(str(out))}"
                          + (f" ({others} run{'s' if others > 1 else ''} of other months: "
                             "leave out --month to list them)" if others else "")
                          + (f"; {refused}" if refused else ""), soft_wrap=True)
            return EXIT_OK
        latest = {r.month: r.revision for r in runs}
        table = Table(title=f"Published runs in {_escape(str(out))}", title_justify="left",
                      caption="✓: the latest revision of its month", caption_justify="left")
        rows, lost = [], []
        for r in runs:
            s = r.manifest.get("settings", {})
            # a hand-edited manifest may say neither: that is not a claim of convergence
            status = ("FORCED (not converged)" if r.forced
                      else "converged" if r.converged else "not recorded")
            listed = r.manifest.get(OUTPUTS_OF_RUN)
            if gone := missing_outputs(r.path, r.manifest,
                                       list(listed) if isinstance(listed, dict) else []):
                status += f"; MISSING {len(gone)} file{'s' if len(gone) > 1 else ''}"
                lost.append(f"[yellow]warning:[/] {_escape(r.name)}: [bold red]MISSING[/] "
                            f"{_escape(', '.join(gone))} (its manifest lists "
                            f"{'them' if len(gone) > 1 else 'it'} among the run's outputs)")
            # the tables' bytes against their hashes (the posterior, hundreds of megabytes a
            # run, when scenario reads it), and what no hash vouches for
            unlisted = unlisted_outputs(r.path, r.manifest,
                                        [*RUN_WRITES, *SCENARIO_WRITES, *WALK_WRITES,
                                         "posterior.nc"],
                                        [*RUN_WRITES, "posterior.nc"])
            absent = [name for name in unlisted if not (r.path / name).is_file()]
            if absent:
                status += f"; MISSING {len(absent)} unlisted"
                lost.append(f"[yellow]warning:[/] {_escape(r.name)}: [bold red]MISSING[/] "
                            f"{_escape(', '.join(absent))} (every run writes "
                            f"{'them' if len(absent) > 1 else 'it'}; its manifest no longer "
                            "lists it)")
            tables = [n for n in (listed if isinstance(listed, dict) else []) if n.endswith(
                (".csv", ".json"))]
            if changed := [*altered_outputs(r.path, r.manifest, tables),
                           *(n for n in unlisted if n not in absent)]:
                status += f"; ALTERED {len(changed)} file{'s' if len(changed) > 1 else ''}"
                lost.append(f"[yellow]warning:[/] {_escape(r.name)}: [bold red]ALTERED[/] "
                            f"{_escape(', '.join(changed))} (not as the run wrote "
                            f"{'them' if len(changed) > 1 else 'it'}: its manifest records "
                            "another SHA-256, or none; report refuses such a table, scenario "
                            "such a posterior)")
            created = str(r.manifest.get("created", ""))[:16].replace("T", " ")
            # a manifest's text as written (one edited by hand may hold anything)
            rows.append((
                _escape(r.name) + (" ✓" if latest[r.month] == r.revision else ""), status,
                _escape(created), _escape(str(s.get("spec_name", ""))),
                _escape(f"{s.get('sampler', '')} {s.get('chains', '')}×{s.get('draws', '')}"
                        + (f" → {run_on.get('draws', '?')} (run on)"
                           if isinstance(run_on := r.manifest.get("run_on"), dict) else "")),
                _escape(str(s.get("horizon", ""))), _escape(str(s.get("preset", ""))),
                _escape(str(scen.get("name") or "yes"))
                if isinstance(scen := r.manifest.get("scenario"), dict) else ""))
        # what tells the runs apart and their state come first and are never cut (a narrow
        # terminal cuts the table's right side); a lost file's name, however long, is said
        # under the table; the month and revision are in the run's name
        # a run made with --scenario is a what-if beside the month's data, said where any is
        columns = ["run", "status", "created", "spec", "sampler", "months ahead", "preset"]
        if any(row[-1] for row in rows):
            columns.append("scenario")
        for i, col in enumerate(columns):
            table.add_column(col, no_wrap=True, min_width=max(
                len(col), *(len(row[i]) for row in rows)) if i < 2 else None)
        for row in rows:
            table.add_row(*row[:len(columns)])
        console.print(table)
        for line in lost:
            console.print(line, soft_wrap=True)
        if refused:
            console.print(refused, soft_wrap=True)
        return EXIT_OK

    _guarded(body)


# ---------------------------------------------------------------------- scenario
@app.command(cls=_Command)
def scenario(
    file: Annotated[Path, typer.Argument(help="Scenario file of assumed U.S. actions: a CSV "
                                              "(ally, period, signal, value[, op, source, "
                                              "note]) or a TOML.",
                                         dir_okay=False, metavar="FILE")],
    run_dir: Annotated[Optional[Path], typer.Option(
        "--run", help="Published run whose posterior to use. Default: the newest in --out "
        "that was neither forced nor quick and whose data no later revision corrected, else "
        "the newest.",
        file_okay=False)] = None,
    out: OutOpt = Path("runs"),
    horizon: Annotated[Optional[int], typer.Option(
        help="Months to forecast (default: the run's, 12 if it does not say). Up to the "
        "run's, the baseline is the run's own forecast, cut short; beyond it, drawn anew.", min=1,
        max=HORIZON_MAX)] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Random seed (default: the run's, so the baseline is the run's own forecast).",
        min=0)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Also write the comparison as CSV.", dir_okay=False)] = None,
) -> None:
    """Forecast a scenario against the baseline of a published run, without refitting.

    Only driver signals (U.S. actions such as consultation lapses) can be set; indicators and
    the outcome are measurements, not actions. Periods run from the run's month to
    horizon - 1 months after it. Nothing is written into the run or its report (-o writes
    the comparison elsewhere); to publish a scenario with a month's run, use `forecast run --scenario`,
    which refits.
    """
    def body() -> int:
        from forecast.report import scenario_view, unmoved_allies
        from forecast.results import load_fit
        from forecast.runfiles import missing_outputs
        from forecast.scenarios import compare, driver_changes, read_scenario

        console, _ = _consoles()
        _check_output(output, run_dir)
        if output is not None and file.exists() and output.resolve() == file.resolve():
            raise InputError("--output is the scenario file itself: the comparison would "
                             "overwrite it; expected another path", parameter="output",
                             value=str(output))
        if run_dir is None:
            registry = Registry(out)
            latest = registry.reference()
            if latest is None:
                broken = registry.unreadable()
                raise InputError("no published run to take the posterior from: expected "
                                 "--run RUN_DIR or a registry with a run (forecast run)"
                                 + (f"; not a readable run: {broken[0].reason}"
                                    if broken else ""), file=str(out))
            path = latest.path
            chosen = " (the newest run neither forced nor quick, of its month's current " \
                "data, else the newest; --run chooses another)"
        else:
            path, chosen = run_dir, ""
            try:  # a folder that refuses a search raises here, not False
                has_posterior = (path / "posterior.nc").is_file()
            except OSError as exc:
                raise InputError(f"cannot be read ({exc.strerror or exc})",
                                 file=str(path)) from None
            if not has_posterior:
                hint = (" (this is a registry: --out names it, --run one of its runs)"
                        if any(path.glob("*/manifest.json")) else "")
                raise InputError(f"not a published run: expected its posterior.nc in it, as "
                                 f"in runs/2026-03{hint}", file=str(path))
        # read once for every check below; another run's, under this one's name, is refused
        # as by report; None for a fit saved by hand
        manifest = own_manifest(path)
        _check_posterior(path, manifest)
        alt_spec = read_scenario(file)
        # said first: an error in resolving the scenario names the run's months
        named = f" ({alt_spec.name})" if alt_spec.name != file.stem else ""
        console.print(f"scenario {_escape(str(file))}{_escape(named)} vs. baseline of "
                      f"{_escape(str(path))}{chosen}", soft_wrap=True)
        baseline = PublishedRun.read(path)
        if baseline is not None and baseline.caveats:
            console.print(f"[bold yellow]note:[/] the baseline run is "
                          f"{_escape(', '.join(baseline.caveats))}", soft_wrap=True)
        fit = load_fit(path / "posterior.nc")
        # the run's own seed and horizon, so that the baseline is the run's own forecast: the
        # draws of a forecast depend on its horizon, so a shorter one is the run's cut short
        settings = _run_settings(path, manifest)
        use_seed = seed if seed is not None else settings.get("seed", fit.seed or 0)
        run_horizon = settings.get("horizon", 12)
        use_horizon = horizon if horizon is not None else run_horizon
        drawn = max(use_horizon, run_horizon)
        alt_spec.resolve(fit, use_horizon)  # an override past --horizon is refused, not cut
        base = fit.forecast(horizon=drawn, seed=use_seed)
        alt = fit.forecast(horizon=drawn, scenario=alt_spec, seed=use_seed)
        table = compare(base, alt)
        table = table[table["horizon"] <= use_horizon].reset_index(drop=True)
        if seed is not None and seed != settings.get("seed"):
            console.print(f"[bold yellow]note:[/] --seed {seed}, not the run's seed: the "
                          "baseline is drawn anew, and differs from the run's forecast.csv by "
                          "Monte Carlo noise", soft_wrap=True)
        elif use_horizon > run_horizon:
            console.print(f"[bold yellow]note:[/] forecast to {use_horizon} months, past the "
                          f"run's {run_horizon}: the baseline is drawn anew, and differs from "
                          "the run's forecast.csv by Monte Carlo noise", soft_wrap=True)
        elif manifest is not None and missing_outputs(path, manifest, ["forecast.csv"]):
            # as list says MISSING: nothing to check the baseline against
            console.print("[yellow]warning:[/] the run's forecast.csv is MISSING (its manifest "
                          "lists it among the run's outputs): the baseline is drawn from the "
                          "run's posterior with its seed and horizon, and cannot be checked "
                          "against the forecast it published", soft_wrap=True)
        elif settings and (gap := _baseline_gap(table, path / "forecast.csv")) is not None:
            console.print(f"[yellow]warning:[/] the baseline is not the run's own forecast: "
                          f"P(hedging) differs from its forecast.csv by up to {gap:.2g}, where "
                          "the run's seed and horizon give the same draws; its manifest's "
                          "settings or its forecast.csv are not as the run wrote them",
                          soft_wrap=True)
        if output is not None:
            table.to_csv(output, index=False, float_format="%.6g")
        view = scenario_view(table)
        if len(view):
            console.print(_frame_table(view))
        else:
            console.print("The scenario moved no ally's forecast: every change is 0 (its "
                          "values may equal what the baseline assumes).", soft_wrap=True)
        if len(view) > MAX_ROWS:
            console.print(f"… {len(view) - MAX_ROWS} more rows"
                          + (" (all in the CSV)" if output is not None
                             else " (--output writes them all)"), soft_wrap=True)
        changed = driver_changes(base, alt)
        if len(changed):
            cells = [f"{r.ally} {r.signal} {r.period}: {r.base:.2f}"
                     f"{' (observed)' if r.observed else ''} → {r.alt:.2f}"
                     for r in changed.itertuples()]
            console.print(f"drivers changed, baseline → scenario, mean over draws (the "
                          f"baseline's values: the data's where marked (observed), else draws "
                          f"at each ally's recent rate; a set row replaces them, an add row adds "
                          f"to them): "
                          f"{_escape(shortlist(cells, MAX_CHANGES, counted=True, sep='; '))}",
                          soft_wrap=True)
        unmoved = unmoved_allies(table)
        if unmoved:
            console.print(f"not moved by the scenario (every change 0, not shown): "
                          f"{_escape(', '.join(unmoved))}", soft_wrap=True)
        if output is not None:
            console.print(f"written: {_escape(str(output))}", soft_wrap=True)
        return EXIT_OK

    _guarded(body)


# ---------------------------------------------------------------------- backtest
#: the files ``forecast backtest --output DIR`` writes
BACKTEST_FILES = ("backtest.csv", "origins.csv", "scores.csv")


@app.command("backtest", cls=_Command)
def backtest_command(
    data: DataOpt = None,
    spec: SpecOpt = "default",
    origins: Annotated[Optional[str], typer.Option(
        help="Origins as months YYYY-MM separated by commas, e.g. 2024-03,2024-09. Default: "
        "--count origins --every months apart, the last --horizon months before the data's "
        "last hedging count.")] = None,
    count: Annotated[int, typer.Option(help="Number of origins when --origins is not given.",
                                       min=1, max=1000)] = 4,
    every: Annotated[int, typer.Option(help="Months between origins when --origins is not "
                                            "given.", min=1, max=1000)] = 6,
    horizon: Annotated[int, typer.Option(help="Months ahead forecast and scored.", min=1,
                                         max=HORIZON_MAX)] = 12,
    draws: Annotated[int, typer.Option(help="Draws per chain.", min=1,
                                       max=SAMPLER_MOST["draws"])] = 1000,
    tune: Annotated[int, typer.Option(help="Tuning steps per chain (fewer for a warm-started "
                                           "origin).", min=0, max=SAMPLER_MOST["tune"])] = 1000,
    chains: Annotated[int, typer.Option(help="Number of chains.", min=1,
                                        max=SAMPLER_MOST["chains"])] = 4,
    seed: Annotated[int, typer.Option(help="Random seed of every origin's fit and forecast.",
                                      min=0)] = 1,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Fit the origins as independent tasks on Dask: 'local' (a cluster on this "
        "machine, a worker per fit its cores can run at once) or a running scheduler's "
        "address (tcp://host:8786). Each origin then starts cold, where without a scheduler "
        "each starts from the previous origin's draws; the same seed gives the same scores as "
        "a cold start here. Needs the 'distributed' extra.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Directory to write backtest.csv (every origin, ally and month "
        "ahead), origins.csv (each fit's diagnostics) and scores.csv (by horizon, and all) "
        "into; created if missing, refused if it holds them already.", file_okay=False)] = None,
) -> None:
    """Refit at each origin on the data up to it, forecast, and score the forecasts against
    the hedging that followed, beside each ally's climatology (its last 24 months).

    Nothing is published to a run registry. Scores are lower-is-better (CRPS, log score,
    Brier); skill above 0 beats the climatology; the persistence baseline (each ally's rate
    of its last 12 months going on) is scored beside it, with the skill against it;
    coverage (covered50 to covered95)
    should be at least the interval's probability (an interval of whole counts holds at
    least its nominal share: with rare acts, up to 1). A PIT histogram of the counts follows.
    """
    def body() -> int:
        import pandas as pd

        from forecast.backtest import (COVERAGE, PERSISTENCE_SCORES, PERSISTENCE_SKILL,
                                       backtest, check_origins, rolling_origins)
        from forecast.files import write_atomically

        out, err = _consoles()
        if output is not None:
            _refuse_inside_a_run(output / BACKTEST_FILES[0])
            taken = [name for name in BACKTEST_FILES if (output / name).exists()]
            if taken:
                raise InputError(f"--output already holds {', '.join(taken)}: a backtest "
                                 "never overwrites one; expected another directory",
                                 file=str(output))
            try:  # made now: a path that cannot be a folder is said before hours of fits
                output.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError) as exc:
                raise InputError(f"--output cannot be made a directory ({exc.strerror}: a "
                                 "file in the way?)", file=str(output)) from None
        inputs = resolve_inputs(data, spec)
        notes: list[str] = []
        panel, _ = load_inputs(inputs, None, notes=notes)
        for note in [*notes, *data_warnings(panel)]:
            err.print(f"[yellow]warning:[/] {_escape(note)}", soft_wrap=True)
        # data past the current month would set the origins: refused as validate and run do
        check_not_ahead(panel.last_month, data=inputs.observations, catalog=inputs.catalog,
                        panel=panel, said_above=True)
        if origins is None:
            months = rolling_origins(panel, count=count, every=every, horizon=horizon)
        else:
            months = [m.strip() for m in origins.split(",")]
            if not all(months):
                raise InputError("expected months YYYY-MM separated by commas, e.g. "
                                 "2024-03,2024-09", parameter="origins", value=origins)
            months = check_origins(panel, months)
        err.print(f"backtest of {len(months)} origin{'s' if len(months) > 1 else ''} "
                  f"({', '.join(months)}), {horizon} months ahead, {chains} chain"
                  f"{'s' if chains > 1 else ''} × {draws} "
                  f"draws each" + (f", on the scheduler {_escape(scheduler)}" if scheduler
                                   else ""), soft_wrap=True)

        def said(row: dict) -> None:
            status = "converged" if row["converged"] else "[yellow]NOT converged[/]"
            err.print(f"  origin {row['origin']}: {status} (R-hat {row['max_rhat']:.4f}, bulk "
                      f"ESS {row['min_ess_bulk']:.0f}, {row['divergences']} divergence"
                      f"{'' if row['divergences'] == 1 else 's'}, "
                      f"sampling {row['sampling_s']:.0f} s)", soft_wrap=True)

        chosen = str(inputs.spec_path) if inputs.spec_path is not None else spec
        try:
            result = backtest(panel, months, chosen, horizon=horizon, draws=draws, tune=tune,
                              chains=chains, seed=seed,
                              progress=err.is_terminal and scheduler is None,
                              scheduler=scheduler, on_origin=said)
        except InputError as exc:
            if origins is not None or exc.parameter != "origins":
                raise
            # the user gave no origin: say which options chose the one refused
            raise InputError(f"the origin {exc.value}, chosen by --count {count} and --every "
                             f"{every}: {exc.reason}; expected fewer origins, closer together, "
                             "or --origins", parameter="count", value=count) from None
        scores = pd.concat([result.scores("horizon"), result.scores(None)])
        scores.index = scores.index.map(str).rename("horizon")
        # four tables (the model beside climatology, persistence, the skill against
        # persistence, coverage), each narrow enough to show its columns' names whole
        shown = scores.reset_index()
        apart = [[c for c in group if c in shown]
                 for group in (PERSISTENCE_SCORES, PERSISTENCE_SKILL, COVERAGE)]
        out.print(_frame_table(shown.drop(columns=sum(apart, [])), max_rows=len(scores)))
        for group in apart:
            out.print(_frame_table(shown[["horizon", *group, "n"]], max_rows=len(scores)))
        shares = result.pit()["share"]
        if shares.notna().all():
            out.print("PIT histogram of the counts, 10 bins (each 0.10 when calibrated; "
                      "U-shaped: intervals too narrow): "
                      + " ".join(f"{v:.2f}" for v in shares), soft_wrap=True)
        failed = result.origins.loc[~result.origins["converged"], "origin"].tolist()
        if failed:
            err.print(f"[yellow]warning:[/] the fits of {', '.join(failed)} did not pass the "
                      "convergence checks: their scores are in the table all the same",
                      soft_wrap=True)
        if output is not None:
            for name, frame, index in zip(BACKTEST_FILES, (result.table, result.origins,
                                                           scores), (False, False, True)):
                write_atomically(output / name, lambda tmp, f=frame, i=index: f.to_csv(
                    tmp, index=i, float_format="%.6g"), "backtest table")
            out.print(f"written: {_escape(str(output))}/{{{','.join(BACKTEST_FILES)}}}",
                      soft_wrap=True)
        return EXIT_OK

    _guarded(body)


def _baseline_gap(table, run_forecast: Path) -> float | None:
    """The largest difference between the scenario's baseline P(hedging) and the run's own
    ``forecast.csv``, where it is more than the file's rounding (6 significant digits); None
    where they agree, or there is no such file to compare with."""
    import pandas as pd

    if not run_forecast.is_file():
        return None
    try:
        own = pd.read_csv(run_forecast, usecols=["ally", "horizon", "p_any"])
    except (ValueError, OSError):
        return None  # a file that cannot be read is report's to refuse, by name
    both = table.merge(own.astype({"ally": str}), on=["ally", "horizon"], how="inner")
    gap = float((both["p_any_base"] - both["p_any"]).abs().max()) if len(both) else 0.0
    return gap if gap > 1e-5 or len(both) < len(table) else None


def _check_posterior(run_dir: Path, manifest: dict | None) -> None:
    """Refuse a run's ``posterior.nc`` that its ``manifest`` does not vouch for: not listed
    among its outputs, or with other bytes than the SHA-256 it records (edited or replaced
    since: its forecasts would be printed as the run's). A directory without a manifest
    (``None``), a fit saved by hand, has nothing to check against."""
    from forecast.runfiles import altered_outputs, unlisted_outputs

    if manifest is None:
        return
    if unlisted_outputs(run_dir, manifest, ["posterior.nc"]):
        raise InputError("not among the outputs the run's manifest lists with their SHA-256, "
                         "as a run lists every file it writes: the manifest was edited, or the "
                         "posterior put there by hand; expected the run's own",
                         file=str(run_dir / "posterior.nc"))
    if altered_outputs(run_dir, manifest, ["posterior.nc"]):
        raise InputError("altered since the run wrote it (the SHA-256 its manifest records "
                         "differs): its forecasts would be printed as the run's; expected the "
                         "posterior as the run wrote it", file=str(run_dir / "posterior.nc"))


def _run_settings(run_dir: Path, manifest: dict | None) -> dict[str, int]:
    """The seed and horizon the run forecast with, as its ``manifest`` states them; none for
    a directory without a manifest (``None``: a fit saved by hand).

    Raises
    ------
    InputError
        A manifest that is damaged: its seed and horizon would otherwise be guessed, and the
        baseline would no longer be the run's own forecast.
    """
    from forecast.runfiles import check_manifest

    if manifest is None:
        return {}
    check_manifest(manifest, run_dir / "manifest.json",
                   needs="the scenario command reads the run's settings")
    settings = manifest["settings"]
    return {k: settings[k] for k in ("seed", "horizon") if settings.get(k) is not None}


#: rows of a table printed to the terminal
MAX_ROWS = 60
#: driver values a scenario changed, printed after its table
MAX_CHANGES = 8


def _frame_table(frame, max_rows: int = MAX_ROWS) -> Table:
    table = Table()
    for col in frame.columns:
        table.add_column(_escape(str(col)))
    for _, row in frame.head(max_rows).iterrows():
        table.add_row(*[_escape(f"{v:.3g}" if isinstance(v, float) else str(v))
                        for v in row.tolist()])
    return table


def main() -> None:
    """Run the command line; :func:`forecast.__main__.main`, the console script's entry
    point and ``python -m forecast``'s, calls it once this module is loaded."""
    app(prog_name="forecast")
