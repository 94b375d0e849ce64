"""The default data and model specs load from an installed wheel, not only from a checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import forecast, pathlib, sys
here = pathlib.Path(forecast.__file__).resolve()
assert str(here).startswith(sys.argv[1]), here          # imported from the wheel, not the repo
paths = forecast.default_paths()
assert str(paths.observations).startswith(sys.argv[1]), paths.observations
panel = forecast.load_default()
assert panel.allies == ("JPN", "KOR", "AUS", "PHL"), panel.allies
assert {"default", "static", "unpooled"} <= set(forecast.available_specs())
for name in forecast.available_specs():
    forecast.load_spec(name)
print("ok", panel.n_months)
"""


def test_wheel_ships_data_and_specs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(dist), str(ROOT)], check=True, capture_output=True)
    wheel = next(dist.glob("forecast-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-compile", "--target", str(target), str(wheel)], check=True,
                   capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(target.resolve())], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")
