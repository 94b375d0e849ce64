"""forecast: Bayesian forecasting of U.S. alliance credibility and allies' hedging.

Examples
--------
>>> import forecast
>>> panel = forecast.load_default()                       # doctest: +SKIP
>>> result = forecast.fit(panel)                          # doctest: +SKIP
>>> result.credibility().head()                           # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING

#: public name → the module that defines it. Nothing is imported until a name is first used
#: (PEP 562), so ``import forecast.cli`` (every command, ``--help`` too) does not pay for
#: PyMC, ArviZ and matplotlib before it needs them.
_SOURCES = {
    "Catalog": "catalog", "SignalSpec": "catalog", "read_catalog": "catalog",
    "default_paths": "datasets", "load_default": "datasets",
    "ConvergenceWarning": "diagnostics", "Diagnostics": "diagnostics",
    "ConvergenceError": "errors", "DataWarning": "errors", "InputError": "errors",
    "SpecError": "errors",
    "attribution": "attribution",
    "Backtest": "backtest", "backtest": "backtest",
    "compare_fits": "comparison",
    "ForecastResult": "forecasting", "forecast_fit": "forecasting",
    "load_forecast": "forecasting", "oracle_fit": "forecasting",
    "fit": "inference",
    "load_panel": "loading",
    "Panel": "panel",
    "Fit": "results", "load_fit": "results",
    "Scenario": "scenarios", "compare": "scenarios", "read_scenario": "scenarios",
    "Simulation": "simulate", "SimulationParameters": "simulate", "simulate": "simulate",
    "synthetic_catalog": "simulate",
    "ModelSpec": "spec", "available_specs": "spec", "load_spec": "spec",
}
__all__ = ["__version__", *sorted(_SOURCES)]

if TYPE_CHECKING:  # what static tools see: the names as eager imports
    from forecast.attribution import attribution
    from forecast.backtest import Backtest, backtest
    from forecast.catalog import Catalog, SignalSpec, read_catalog
    from forecast.comparison import compare_fits
    from forecast.datasets import default_paths, load_default
    from forecast.diagnostics import ConvergenceWarning, Diagnostics
    from forecast.errors import ConvergenceError, DataWarning, InputError, SpecError
    from forecast.forecasting import ForecastResult, forecast_fit, load_forecast, oracle_fit
    from forecast.inference import fit
    from forecast.loading import load_panel
    from forecast.panel import Panel
    from forecast.results import Fit, load_fit
    from forecast.scenarios import Scenario, compare, read_scenario
    from forecast.simulate import Simulation, SimulationParameters, simulate, synthetic_catalog
    from forecast.spec import ModelSpec, available_specs, load_spec


def __getattr__(name: str):
    module = _SOURCES.get(name)
    if module is None:
        # a submodule (``forecast.scenarios``, ``forecast.results``, ...), as after an eager
        # import of the package
        if not name.startswith("_") and importlib.util.find_spec(f"forecast.{name}"):
            return importlib.import_module(f"forecast.{name}")
        raise AttributeError(f"module 'forecast' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"forecast.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCES))


class _Package(types.ModuleType):
    """The package module. ``forecast.simulate``, ``forecast.attribution`` and ``forecast.backtest`` are functions
    that share their names with the submodules defining them; importing such a submodule
    would bind the module in their place (the import system sets it as an attribute of the
    package), so a module is not bound over a public name."""

    def __setattr__(self, name: str, value) -> None:
        if name in _SOURCES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
