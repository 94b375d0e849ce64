"""The layers stay clean: which modules of the package may import which.

Data (contract, validation) knows nothing of the model; the model knows nothing of files,
runs or reports; only the command line sits on top. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "forecast"

DATA = {"errors", "files", "catalog", "panel", "tabular", "loading", "events", "datasets"}
MODEL = {"spec", "design", "recursion", "likelihood", "model", "simulate"}
INFERENCE = {"backend", "cfuncs", "convergence", "diagnostics", "inference", "results", "compiled",
             "precompile"}
OUTPUTS = {"forecasting", "scenarios", "attribution", "plots", "comparison", "pointwise",
           "pareto", "backtest", "scheduling"}
OPERATIONS = {"runs", "runfiles", "manifest", "report", "monthly"}
TOP = {"cli", "__main__", "__init__"}

#: module group → groups it must not import
FORBIDDEN = {
    "data": MODEL | INFERENCE | OUTPUTS | OPERATIONS | TOP,
    "model": INFERENCE | OUTPUTS | OPERATIONS | TOP | {"loading", "events", "tabular"},
    "inference": OPERATIONS | TOP,
    "outputs": OPERATIONS | TOP,
    "operations": {"cli", "__main__"},
}


def _group(module: str) -> str | None:
    for name, members in (("data", DATA), ("model", MODEL), ("inference", INFERENCE),
                          ("outputs", OUTPUTS), ("operations", OPERATIONS)):
        if module in members:
            return name
    return None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "forecast":
                found |= {a.name for a in node.names}
            elif node.module.startswith("forecast."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("forecast."):
                    found.add(a.name.split(".")[1])
    return found


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_is_placed_in_a_layer():
    unplaced = [m for m in MODULES if _group(m) is None and m not in TOP]
    assert not unplaced, f"add these modules to a layer in tests/test_layers.py: {unplaced}"


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_respect_layers(module):
    group = _group(module)
    if group is None:
        return
    bad = _imports(PACKAGE / f"{module}.py") & FORBIDDEN[group]
    assert not bad, f"forecast.{module} ({group} layer) must not import {sorted(bad)}"


def test_checker_catches_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from forecast.cli import app\n    import forecast.runs\n")
    assert _imports(bad) == {"cli", "runs"}


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet) and return its stdout."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_command_line_starts_without_the_modelling_stack():
    """``forecast --help`` and every command's start import ``forecast.cli``; PyMC, PyTensor,
    ArviZ and matplotlib are imported by the commands that use them, not before."""
    heavy = ["pymc", "pytensor", "arviz", "matplotlib", "nutpie", "numba"]
    out = _fresh(f"import sys, forecast.cli; print([m for m in {heavy!r} if m in sys.modules])")
    assert out.strip() == "[]", out


def test_public_names_resolve_and_functions_keep_their_submodules_names():
    """``forecast.simulate`` and ``forecast.attribution`` are the functions, also when their
    submodules were imported first; every name in ``__all__`` resolves."""
    out = _fresh(
        "import forecast.simulate, forecast.attribution, forecast.backtest, forecast.cli\n"
        "import forecast, types\n"
        "print(type(forecast.simulate).__name__, type(forecast.attribution).__name__,\n"
        "      type(forecast.backtest).__name__)\n"
        "print(all(hasattr(forecast, n) for n in forecast.__all__))\n"
        "print(set(forecast.__all__) <= set(dir(forecast)))\n"
        "print(isinstance(forecast.catalog, types.ModuleType))\n")
    assert out.split() == ["function", "function", "function", "True", "True", "True"], out


def test_submodules_are_attributes_of_the_package():
    """After a plain ``import forecast`` every submodule is reachable as an attribute
    (``forecast.scenarios.compare``), as when the package imported them all."""
    names = sorted(m for m in MODULES if m not in TOP | {"simulate", "attribution", "backtest"})
    out = _fresh(f"import forecast, types\n"
                 f"print(all(isinstance(getattr(forecast, m), types.ModuleType) "
                 f"for m in {names!r}))\n"
                 f"print(hasattr(forecast, 'no_such_module'))\n")
    assert out.split() == ["True", "False"], out
