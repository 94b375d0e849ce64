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

from forecast.catalog import Catalog, SignalSpec, read_catalog
from forecast.datasets import default_paths, load_default
from forecast.diagnostics import ConvergenceWarning, Diagnostics
from forecast.errors import ConvergenceError, InputError, SpecError
from forecast.attribution import attribution
from forecast.forecasting import ForecastResult, forecast_fit, load_forecast, oracle_fit
from forecast.inference import fit
from forecast.loading import load_panel
from forecast.panel import Panel
from forecast.results import Fit, load_fit
from forecast.scenarios import Scenario, compare, read_scenario
from forecast.simulate import Simulation, SimulationParameters, simulate, synthetic_catalog
from forecast.spec import ModelSpec, available_specs, load_spec

__all__ = [
    "__version__",
    "Catalog",
    "ConvergenceError",
    "ConvergenceWarning",
    "ForecastResult",
    "Diagnostics",
    "Fit",
    "InputError",
    "ModelSpec",
    "Panel",
    "Scenario",
    "SignalSpec",
    "Simulation",
    "SimulationParameters",
    "SpecError",
    "attribution",
    "available_specs",
    "compare",
    "default_paths",
    "fit",
    "forecast_fit",
    "load_default",
    "load_fit",
    "load_forecast",
    "load_panel",
    "load_spec",
    "oracle_fit",
    "read_scenario",
    "read_catalog",
    "simulate",
    "synthetic_catalog",
]
