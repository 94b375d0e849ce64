"""``python -m forecast``: the same command line as the ``forecast`` console script."""

from forecast.cli import main

if __name__ == "__main__":
    main()
