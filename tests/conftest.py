"""Shared test configuration."""

import os

# Keep numba/BLAS from oversubscribing the 2-core CI machine when pytest-xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
