"""Shared test configuration."""

import os
from pathlib import Path

import pytest

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


@pytest.fixture
def refuse_path(monkeypatch):
    """``refuse_path(method, refused)``: ``Path.<method>`` raises PermissionError for the paths
    ``refused(path)`` picks, as the file system does for what lies in a folder at chmod 000.
    The tests run as root, which chmod does not stop."""
    def patch(method: str, refused) -> None:
        original = getattr(Path, method)

        def refusing(self, *args, **kwargs):
            if refused(self):
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Path, method, refusing)

    return patch
