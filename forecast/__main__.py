"""``python -m forecast`` and the ``forecast`` console script: the command line of
:mod:`forecast.cli`.

The command line's modules (typer, rich, pandas) load inside :func:`main`, so that a Ctrl-C
while they load, about a second, ends as one later does: one line and exit code 130, not a
traceback. A SIGTERM (what ``timeout``, systemd and batch schedulers send) is met as a Ctrl-C
is, so a run's staging directory is removed before it ends, with exit code 143 (128 + 15).
"""

import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python is when it arrives: unwinds as a Ctrl-C does."""


def main() -> None:
    """Load the command line and run it; Ctrl-C while it loads exits 130, SIGTERM 143."""
    received: list[int] = []

    def terminate(signum, frame) -> None:
        received.append(signum)
        raise Terminated

    # a parent that ignores SIGTERM on purpose keeps it ignored; off the main thread (main()
    # called by another program) Python cannot set a handler, and the default stays
    previous, installed = signal.getsignal(signal.SIGTERM), False
    if previous is not signal.SIG_IGN:
        try:
            signal.signal(signal.SIGTERM, terminate)
            installed = True
        except ValueError:
            pass
    try:
        try:
            from forecast.cli import main as run_cli
        except KeyboardInterrupt:
            print("interrupted; nothing was published", file=sys.stderr)
            raise SystemExit(130) from None
        run_cli()
    except SystemExit as exc:
        # nutpie answers any interrupt by returning its draws so far, and the run then stops
        # as interrupted (130): the signal that began it decides the code
        raise SystemExit(128 + signal.SIGTERM if received and exc.code == 130 else exc.code) \
            from None
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":
    main()
