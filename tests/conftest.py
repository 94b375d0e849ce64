"""Shared test configuration."""

import os

# Keep numba/BLAS from oversubscribing the 2-core CI machine when pytest-xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

# The docstrings' examples run as tests (pyproject's --doctest-modules over forecast/). These
# compile a model: minutes each on 2 cores, so they run with the slow tests.
SLOW_DOCTESTS = {
    "forecast.cfuncs.model_functions",
    "forecast.inference.fit",
    "forecast.backend",
    "forecast.results.load_fit",
}


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if type(item).__name__ == "DoctestItem" and item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)
