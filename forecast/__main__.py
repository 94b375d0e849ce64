"""``python -m forecast`` and the ``forecast`` console script: the command line of
:mod:`forecast.cli`.

The command line's modules (typer, rich, pandas) load inside :func:`main`, so that a Ctrl-C
while they load, about a second, ends as one later does: one line and exit code 130, not a
traceback.
"""

import sys


def main() -> None:
    """Load the command line and run it; Ctrl-C while it loads exits 130."""
    try:
        from forecast.cli import main as run_cli
    except KeyboardInterrupt:
        print("interrupted; nothing was published", file=sys.stderr)
        raise SystemExit(130) from None
    run_cli()


if __name__ == "__main__":
    main()
