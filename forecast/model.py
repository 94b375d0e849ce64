"""The PyMC generative model of allies' latent credibility.

State, for ally ``a`` and month ``t``::

    θ[a,t] = μ[a] + x[a,t] + γ[a]·g[t]
    x[a,t] = φ[a]·x[a,t-1] + Σ_d β[a,d]·driver[a,d,t-1] + σ[a]·ε[a,t]
    g[t]   = ρ·g[t-1] + sqrt(1-ρ²)·η[t]

Identification: ``x[a,·]`` has stationary sd ``s[a]`` with ``log s[a]`` pooled around 0 (the
latent's scale), ``μ[a] = 0`` unless the spec asks for shared intercepts (then ``μ`` is pooled
around 0: the location), loadings carry the catalog's sign (the orientation) and ``γ[a] > 0``
orients the common factor. See ``docs/decisions/0001-identification.md``.

Both AR(1) recursions are one :class:`~forecast.recursion.AR1Filter` node each (no ``scan``):
a compiled loop over time, and the same loop backwards in the gradient.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.model.transform.optimization import freeze_dims_and_data

from forecast.design import Design
from forecast.likelihood import negbin_observed
from forecast.recursion import ar1_filter
from forecast.spec import ModelSpec

__all__ = ["build_model", "ally_offsets", "between_ally_sd", "fix_lengths", "polar_offsets",
           "GROWING_DIMS", "LATENT", "OBSERVED_OUTCOME"]

LATENT = "credibility"
OBSERVED_OUTCOME = "outcome"
#: the dimensions whose length a new month of data can change; every other length is fixed by
#: the catalog, the spec and the allies (docs/decisions/0021)
GROWING_DIMS = ("period", "year", "drift_step")
#: the rows of each family's index array: which ally, signal, months and year a value measures
_INDEX_ROWS = ("ally", "signal", "start", "stop", "year")


def fix_lengths(model: pm.Model) -> pm.Model:
    """``model`` with the length of every dimension but :data:`GROWING_DIMS` a constant.

    What nutpie compiles: the allies, signals and drivers are the catalog's and the spec's,
    so their lengths are constants of one graph that still serves every length of panel;
    the data and the months stay inputs (docs/decisions/0021).

    Examples
    --------
    >>> import forecast
    >>> from forecast.design import make_design
    >>> spec = forecast.load_spec("default")
    >>> model = build_model(make_design(forecast.simulate(2, 12, seed=1).panel, spec), spec)
    >>> fixed = fix_lengths(model)
    >>> sorted(d for d, n in fixed.dim_lengths.items() if hasattr(n, "get_value"))
    ['drift_step', 'period', 'year']
    """
    return freeze_dims_and_data(model, dims=[d for d in model.coords if d not in GROWING_DIMS],
                                data=[])


def ally_offsets(name: str, partial: bool, other: str | None = None):
    """Standardised ally offsets ``z``, dims ``("ally",)`` or ``("ally", other)``.

    Partial pooling: zero-sum over allies, so the population location is the allies' average
    and not a direction the offsets can trade against (with four allies the location and the
    offsets' mean drifted together along a ridge, docs/decisions/0004). Otherwise (no pooling,
    or a single ally) independent ``Normal(0, 1)``.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model(coords={"ally": ["A", "B", "C"]}):
    ...     z = ally_offsets("z", partial=True)
    >>> abs(float(pm.draw(z, random_seed=1).sum())) < 1e-12
    True
    """
    n_allies = len(pm.modelcontext(None).coords["ally"])
    if partial and n_allies > 1:
        if other is None:
            return pm.ZeroSumNormal(name, sigma=1.0, dims="ally")
        return pm.ZeroSumNormal(name, sigma=1.0, dims=(other, "ally")).T
    return pm.Normal(name, 0.0, 1.0, dims="ally" if other is None else ("ally", other))


def _pooled(name: str, loc, scale, pooling: str, fixed_sd: float):
    """Ally-level parameter: ``loc + scale·z`` (partial pooling, non-centred) or independent."""
    z = ally_offsets(f"{name}_z", pooling == "partial")
    if pooling == "partial":
        return loc + scale * z
    return loc + fixed_sd * z


def _group_mean(shape, index, values):
    """Mean of ``values`` over the entries that share an ``index`` into an array of ``shape``;
    0 where no entry falls."""
    total = pt.inc_subtensor(pt.zeros(shape)[index], values)
    count = pt.inc_subtensor(pt.zeros(shape)[index], 1.0)
    return total / pt.maximum(count, 1.0)


def _cell_means(obs: dict, pred: dict, families: list[str], A: int, S: int):
    """Mean of the predictors ``pred[f]`` over each (ally, signal) cell's observations in
    ``families``; 0 for a cell with none (a signal has one family, so the families' cells
    never overlap)."""
    means = [_group_mean((A, S), (obs[f]["ally"], obs[f]["signal"]), pred[f]) for f in families]
    return sum(means[1:], means[0])


def centred_walk(steps):
    """A walk from 0 by ``steps`` along the last axis (one value more than the steps), centred
    on its mean along that axis: a drifting level whose mean is the intercept beside it.

    Examples
    --------
    >>> import numpy as np
    >>> centred_walk(pt.as_tensor(np.array([1.0, 2.0]))).eval().tolist()
    [-1.3333333333333333, -0.33333333333333326, 1.6666666666666667]
    >>> centred_walk(pt.as_tensor(np.zeros(0))).type.shape
    (1,)
    """
    # the zero start has its own static length 1, so a walk of no steps (a panel within one
    # calendar year) is one level, not an empty vector: ``steps[..., :1]`` would be empty there
    start = pt.zeros((*steps.shape[:-1], 1), dtype=steps.dtype)
    walk = pt.cumsum(pt.concatenate([start, steps], axis=-1), axis=-1)
    return walk - walk.mean(axis=-1, keepdims=True)


def between_ally_sd(name: str, scale, dims: str | None = None):
    """Spread of an ally-level parameter across allies: ``Gamma(2, 2.4/scale)``.

    Same mean (≈0.83·scale) and 95th percentile (≈1.96·scale) as ``HalfNormal(scale)``, but
    density zero at 0: with four allies the data cannot tell a spread of 0.01 from 0, and a
    half-normal let non-centred chains slide down the funnel ``τ → 0, z → ∞`` where the
    ally's value is informed (docs/decisions/0004-between-ally-spreads.md).

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model():
    ...     tau = between_ally_sd("tau", 0.5)
    >>> round(float(pm.draw(tau, draws=20000, random_seed=1).mean()), 2)
    0.41
    """
    return pm.Gamma(name, alpha=2.0, beta=2.4 / np.asarray(scale, dtype=float), dims=dims)


def _ally_parameter(name: str, mean: float, sd: float, pooling_scale: float, partial: bool):
    """An ally-level parameter on an unconstrained scale.

    Partial pooling: ``{name}_mu ~ Normal(mean, sd)``, ``{name}_tau ~`` :func:`between_ally_sd`
    and ``{name}_mu + {name}_tau·z`` (non-centred). No pooling: ``mean + sd·z``, allies apart.
    """
    if partial:
        loc = pm.Normal(f"{name}_mu", mean, sd)
        tau = between_ally_sd(f"{name}_tau", pooling_scale)
        return _pooled(name, loc, tau, "partial", 0.0)
    return _pooled(name, mean, 0.0, "none", sd)


def _signed(name: str, signs: np.ndarray, abs_scale: float, free_scale: float, dim: str):
    """One value per entry of ``dim``, with the catalog's sign where it gives one.

    Signed entries (``signs`` ±1) are ``sign · HalfNormal(abs_scale)`` magnitudes, dims
    ``signed_<dim>``; entries of free sign (0) are ``Normal(0, free_scale)``, dims
    ``free_<dim>``. Only the entries the model uses are sampled: a magnitude for a free-sign
    entry would be drawn from its prior alone (docs/decisions/0005).
    """
    model = pm.modelcontext(None)
    labels = list(model.coords[dim])
    value = pt.zeros(len(signs))
    signed, free = np.flatnonzero(signs != 0), np.flatnonzero(signs == 0)
    if signed.size:
        model.add_coord(f"signed_{dim}", [labels[k] for k in signed])
        magnitude = pm.HalfNormal(f"{name}_abs", abs_scale, dims=f"signed_{dim}")
        value = pt.set_subtensor(value[signed], signs[signed] * magnitude)
    if free.size:
        model.add_coord(f"free_{dim}", [labels[k] for k in free])
        value = pt.set_subtensor(value[free], pm.Normal(f"{name}_free", 0.0, free_scale,
                                                        dims=f"free_{dim}"))
    return pm.Deterministic(name, value, dims=dim)


def intercept_geometry(design: Design, spec: ModelSpec) -> np.ndarray | None:
    """The geometry :func:`build_model` gives the allies' intercept offsets: one of
    ``"noncentred"``, ``"centred"`` and ``"polar"`` per count or binary signal, in catalog
    order; ``None`` where there are no such offsets with a spread (intercepts not per ally, no
    partial pooling, one ally, no such signal).

    ``intercept_parameterisation``: ``"noncentred"``, ``"centred"`` or ``"polar"`` for all;
    ``"auto"`` centred and ``"auto_polar"`` polar for each signal of which every ally has at
    least ``spec.centred_intercept_events`` events (:meth:`Design.intercept_events`), and
    noncentred for the others (docs/decisions/0013, 0035).

    Examples
    --------
    >>> from forecast import load_default, load_spec, simulate
    >>> from forecast.design import make_design
    >>> panel = simulate(n_allies=3, n_months=24, seed=1).panel
    >>> spec = load_spec("default")
    >>> intercept_geometry(make_design(panel, spec), spec).tolist()   # few events a signal
    ['noncentred', 'noncentred']
    >>> unpooled = load_spec("unpooled")
    >>> print(intercept_geometry(make_design(panel, unpooled), unpooled))
    None
    >>> auto = load_spec("default").model_copy(update={"intercept_parameterisation": "auto"})
    >>> intercept_geometry(make_design(load_default(), auto), auto).tolist()  # sparse counts
    ['noncentred', 'noncentred', 'noncentred', 'noncentred']
    """
    own = np.flatnonzero(np.array(design.families_of) != "normal")
    if (spec.intercepts != "ally" or spec.pooling != "partial" or design.n_allies < 2
            or not own.size):
        return None
    kind = spec.intercept_parameterisation
    if kind in ("auto", "auto_polar"):
        informed = design.intercept_events()[:, own].min(axis=0) >= spec.centred_intercept_events
        return np.where(informed, "centred" if kind == "auto" else "polar", "noncentred")
    return np.full(own.size, kind)


def polar_offsets(name: str, tau, dim: str):
    """``ZeroSumNormal(τ)`` offsets over allies, one row per entry of ``dim`` (dims
    ``(dim, "ally")``), sampled as a length and a direction.

    An isotropic normal vector is its length times an independent direction. Over ``A``
    allies the zero-sum offsets have ``A − 1`` free coordinates, so their squared length is
    ``τ²·χ²(A−1)``, a ``Gamma((A−1)/2, 1/(2τ²))`` (``{name}_length2``, which the sampler moves
    on the log scale), and their direction is a ``ZeroSumNormal(1)`` vector divided by its own
    length (``{name}_direction``; that length is a coordinate no other quantity reads). Where
    the data pin the offsets, the spread ``τ`` and the offsets' length are then two
    coordinates the prior ties loosely, not the hyperbola ``τ·z = const`` of the non-centred
    form; where the data say little, the length follows ``τ`` along a line in the log scale,
    not into the centred form's funnel (docs/decisions/0035).

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model(coords={"ally": list("ABCDE"), "signal": ["s"]}):
    ...     dev = polar_offsets("x", pm.math.constant([0.7]), "signal")
    >>> draws = pm.draw(dev, draws=20000, random_seed=1)
    >>> bool(abs(draws.sum(axis=-1)).max() < 1e-9), round(float(draws.std()), 2)  # 0.7·√(4/5)
    (True, 0.63)
    """
    n_allies = len(pm.modelcontext(None).coords["ally"])
    direction = pm.ZeroSumNormal(f"{name}_direction", sigma=1.0, dims=(dim, "ally"))
    length2 = pm.Gamma(f"{name}_length2", alpha=(n_allies - 1) / 2.0, beta=0.5 / tau**2,
                       dims=dim)
    return pt.sqrt(length2 / (direction**2).sum(axis=1))[:, None] * direction


def build_model(design: Design, spec: ModelSpec) -> pm.Model:
    """Build the PyMC model for one design (panel arrays) under one spec.

    Parameters
    ----------
    design
        Output of :func:`forecast.design.make_design`.
    spec
        Which blocks are on and the priors.

    Returns
    -------
    pm.Model
        Its posterior holds ``credibility`` with dims ``(ally, period)``.

    Examples
    --------
    >>> import forecast
    >>> from forecast.design import make_design
    >>> sim = forecast.simulate(n_allies=3, n_months=24, seed=1)
    >>> spec = forecast.load_spec("default")
    >>> model = build_model(make_design(sim.panel, spec), spec)
    >>> "credibility" in model.named_vars
    True
    """
    pr = spec.priors
    A, T = design.n_allies, design.n_periods
    # intercepts at each ally's average latent (docs/decisions/0009), or at the panel's
    # (docs/decisions/0017)
    average = spec.intercepts == "ally" and spec.intercept_reference == "average"
    panel_level = spec.intercept_reference == "panel"
    partial = spec.pooling == "partial"
    coords = {
        "ally": list(design.allies),
        "period": list(design.periods),
        "signal": list(design.indicators),
        "driver": list(design.drivers),
        "year": list(design.years),
    }
    with pm.Model(coords=coords) as model:
        # ---------------------------------------------------------------- ally states x[a, t]
        if spec.dynamics == "ar1":
            phi_logit = _ally_parameter("persistence_logit", pr.persistence_logit_mean,
                                        pr.persistence_logit_sd, pr.persistence_pooling_scale,
                                        partial)
            phi = pm.Deterministic("persistence", pt.sigmoid(phi_logit), dims="ally")
        else:
            phi = pt.zeros(A)
        # total stationary sd v[a] (population log-mean fixed at 0: the latent's scale) and the
        # share w[a] of the ally's variance that is the common factor's
        if partial:
            v_tau = between_ally_sd("volatility_log_tau", pr.volatility_pooling_scale)
            # zero-sum: the geometric mean of the allies' sds is exactly 1 (hard scale anchor)
            v_z = pm.ZeroSumNormal("volatility_log_z", sigma=1.0, dims="ally")
            v = pm.Deterministic("credibility_sd", pt.exp(v_tau * v_z), dims="ally")
        else:
            v = pt.ones(A)
        if spec.common_factor:
            w_logit = _ally_parameter("factor_share_logit", pr.factor_share_logit_mean,
                                      pr.factor_share_logit_sd, pr.pooling_scale, partial)
            w = pm.Deterministic("factor_share", pt.sigmoid(w_logit), dims="ally")
        else:
            w = pt.zeros(A)
        ally_scale = v * pt.sqrt(1.0 - w)  # sd of the ally's own state
        centred = spec.parameterisation == "centred"
        if not centred:
            eps = pm.Normal("state_innovation", 0.0, 1.0, dims=("ally", "period"))
            u = pt.sqrt(1.0 - phi**2)[:, None] * eps
            u = pt.set_subtensor(u[:, 0], eps[:, 0])
        push = None
        if design.drivers:
            D = len(design.drivers)
            signs = design.driver_signs
            b_pop = _signed("driver_effect", signs, pr.driver_scale, pr.driver_scale, "driver")
            if partial and spec.driver_effects == "pooled":
                b_tau = between_ally_sd("driver_effect_tau", pr.pooling_scale / 2, dims="driver")
                beta = b_pop[None, :] + b_tau[None, :] * ally_offsets(
                    "driver_effect_ally_z", True, "driver")
            else:
                beta = pt.broadcast_to(b_pop[None, :], (A, D))
            # effect of one standardised unit of driver at t-1 on credibility at t
            beta = pm.Deterministic("driver_effect_ally", beta, dims=("ally", "driver"))
            drv = pm.Data("driver_values", design.driver_values,
                          dims=("ally", "driver", "period"))
            push = (beta[:, :, None] * drv[:, :, :-1]).sum(axis=1)  # on the latent's scale
            if not centred:
                u = pt.inc_subtensor(u[:, 1:], push / ally_scale[:, None])
        if centred:
            # centred: the ally's own state (latent scale) is the free variable; its AR(1)
            # density is one vectorised expression over the whole (ally, period) matrix
            own = pm.Flat("state", dims=("ally", "period"))
            mean = phi[:, None] * own[:, :-1] + (push if push is not None else 0.0)
            sd = (ally_scale * pt.sqrt(1.0 - phi**2))[:, None]
            pm.Potential("state_ar1", pm.logp(pm.Normal.dist(0.0, ally_scale), own[:, 0]).sum()
                         + pm.logp(pm.Normal.dist(mean, sd), own[:, 1:]).sum())
            theta = own
        else:
            x = ar1_filter(u, phi) if spec.dynamics == "ar1" else u
            theta = ally_scale[:, None] * x

        # ---------------------------------------------------------------- common factor g[t]
        if spec.common_factor:
            rho = pm.Beta("factor_persistence", pr.factor_persistence_a, pr.factor_persistence_b)
            eta = pm.Normal("factor_innovation", 0.0, 1.0, dims="period")
            vg = pt.set_subtensor((pt.sqrt(1.0 - rho**2) * eta)[0], eta[0])
            g = pm.Deterministic("common_factor", ar1_filter(vg, rho), dims="period")
            gamma = pm.Deterministic("factor_loading", v * pt.sqrt(w), dims="ally")
            theta = theta + gamma[:, None] * g[None, :]
        if spec.intercepts == "shared":
            mu_tau = between_ally_sd("level_tau", 1.0)
            mu = pm.Deterministic(
                "level", mu_tau * pm.ZeroSumNormal("level_z", sigma=1.0, dims="ally"), dims="ally")
            theta = theta + mu[:, None]
        theta = pm.Deterministic(LATENT, theta, dims=("ally", "period"))

        # ---------------------------------------------------------------- indicators
        S = len(design.indicators)
        signs = design.signs
        lam = _signed("loading", signs, pr.loading_scale, pr.disputed_loading_scale, "signal")
        if spec.loadings == "pooled":
            lam_tau = between_ally_sd("loading_tau", pr.pooling_scale / 2, dims="signal")
            lz = pm.Normal("loading_ally_z", 0.0, 1.0, dims=("ally", "signal"))
            lam_signed = pt.exp(lam_tau[None, :] * lz) * lam[None, :]
            lam_as = pm.Deterministic(
                "loading_ally",
                pt.where(signs != 0, lam_signed, lam[None, :] + lam_tau[None, :] * lz),
                dims=("ally", "signal"))
        else:
            lam_as = pt.broadcast_to(lam[None, :], (A, S))
        drift = None
        if design.drift_signals:
            idx = [design.indicators.index(s) for s in design.drift_signals]
            # the number of years as the model's dimension length, not a constant: a panel
            # that reaches into a new year compiles to the same graph (docs/decisions/0021)
            Y = model.dim_lengths["year"]
            model.add_coord("drift_signal", list(design.drift_signals))
            d_tau = pm.LogNormal("drift_tau", np.log(pr.drift_scale), pr.drift_log_sd,
                                 dims="drift_signal")
            # one step into each year after the first (the first year's level is the walk's
            # origin: a step into it would be sampled from its prior alone)
            model.add_coord("drift_step", list(design.years[1:]))
            d_z = pm.Normal("drift_z", 0.0, 1.0, dims=("ally", "drift_signal", "drift_step"))
            # centred on its mean over the years: the ally intercept is the signal's average
            # level, not its level in the first year (which the walk's steps would confound)
            walk = pm.Deterministic("intercept_drift",
                                    centred_walk(d_tau[None, :, None] * d_z),
                                    dims=("ally", "drift_signal", "year"))
            drift = pt.zeros((A, S, Y))
            drift = pt.set_subtensor(drift[:, idx, :], walk)

        # each family's observations and the intercept-free part of their linear predictor
        cum = pt.concatenate([pt.zeros((A, 1)), pt.cumsum(theta, axis=1)], axis=1)
        obs, pred = {}, {}
        for fam, block in design.families.items():
            # every array is pm.Data: a compiled model takes new data. The five index arrays
            # are one (an input of the compiled graph each: docs/decisions/0021)
            index = pm.Data(f"{fam}_obs_index", np.stack(
                [getattr(block, k).astype(np.int64) for k in _INDEX_ROWS]))
            b = obs[fam] = {k: index[i] for i, k in enumerate(_INDEX_ROWS)}
            b["value"] = pm.Data(f"{fam}_obs_value", block.value)
            if block.single_month:
                lat = theta[b["ally"], b["start"]]
            else:
                lat = ((cum[b["ally"], b["stop"]] - cum[b["ally"], b["start"]])
                       / (b["stop"] - b["start"]))
            pred[fam] = lam_as[b["ally"], b["signal"]] * lat
            if drift is not None:
                pred[fam] = pred[fam] + drift[b["ally"], b["signal"], b["year"]]

        centers = pm.Data("intercept_center", design.centers, dims="signal")
        is_normal = np.array(design.families_of) == "normal"
        # standardised normal signals have pooled mean 0 by construction: a tighter prior
        a_sd = np.where(is_normal, 1.0, pr.intercept_sd)
        at_panel_level = (spec.intercept_mu_coordinates == "panel_level"
                          and spec.intercept_reference == "zero")
        if spec.intercepts == "ally" and not partial:
            # no pooling: each ally's intercepts lie around the fixed prior centre; a learnt
            # common mean would carry information from one ally's levels to another's
            a_mu = centers
        elif at_panel_level:
            # the same prior and posterior in other coordinates: the sampler moves each count
            # or binary signal's log-rate at the panel's average latent, which the data pin
            # down, and intercept_mu follows. Sampled directly, intercept_mu and the panel's
            # overall level lay along a ridge that opened as the common factor's persistence
            # neared 1 (a shift by other variables: Jacobian 1; docs/decisions/0033)
            shift = pt.where(is_normal, 0.0, lam * theta.mean())
            a_level = pm.Normal("intercept_level", centers + shift, a_sd, dims="signal")
            a_mu = pm.Deterministic("intercept_mu", a_level - shift, dims="signal")
        else:
            a_mu = pm.Normal("intercept_mu", centers, a_sd, dims="signal")
        alpha = pt.broadcast_to(a_mu[None, :], (A, S))
        if spec.intercepts == "ally":
            # normal values are centred on each ally's own mean (design): their model is centred
            # over the same observations, so they measure the latent's movements within the
            # ally, never its level (docs/decisions/0004)
            centred = is_normal
            own = np.flatnonzero(~centred)
            if own.size:
                model.add_coord("ally_intercept_signal", [design.indicators[k] for k in own])
                geometry = intercept_geometry(design, spec)
                if geometry is not None and (geometry != "noncentred").any():
                    # centred, the offsets themselves (docs/decisions/0013), or polar, a
                    # length and a direction (0035), for intercepts that many events per ally
                    # inform; with "auto" or "auto_polar" the signals few events inform keep
                    # the non-centred form
                    kind = "polar" if (geometry == "polar").any() else "centred"
                    a_tau = between_ally_sd("intercept_tau", pr.intercept_pooling_scale,
                                            dims="ally_intercept_signal")
                    k = np.flatnonzero(geometry == kind)
                    n = np.flatnonzero(geometry != kind)
                    dim = "ally_intercept_signal"
                    if n.size:
                        dim = f"{kind}_intercept_signal"
                        model.add_coord(dim, [design.indicators[j] for j in own[k]])
                        model.add_coord("noncentred_intercept_signal",
                                        [design.indicators[j] for j in own[n]])
                    tau_k = a_tau[k] if n.size else a_tau
                    if kind == "polar":
                        part = polar_offsets("intercept", tau_k, dim)
                    else:
                        part = pm.ZeroSumNormal("intercept_dev", sigma=tau_k[:, None],
                                                dims=(dim, "ally"))
                    dev = part.T
                    if n.size:
                        dev = pt.set_subtensor(pt.zeros((A, own.size))[:, k], dev)
                        z = ally_offsets("intercept_z", partial, "noncentred_intercept_signal")
                        dev = pt.set_subtensor(dev[:, n], a_tau[n][None, :] * z)
                else:
                    z = ally_offsets("intercept_z", partial, "ally_intercept_signal")
                    if partial:
                        a_tau = between_ally_sd("intercept_tau", pr.intercept_pooling_scale,
                                                dims="ally_intercept_signal")
                        dev = a_tau[None, :] * z
                    else:
                        dev = pr.intercept_sd * z
                alpha = pt.set_subtensor(alpha[:, own], a_mu[own][None, :] + dev)
            if centred.any():
                mean = _cell_means(obs, pred, ["normal"], A, S)
                cols = np.flatnonzero(centred)
                alpha = pt.set_subtensor(alpha[:, cols], a_mu[cols][None, :] - mean[:, cols])
            if own.size and average:
                # the intercept is the signal's level at the ally's average latent over the
                # months it is observed (docs/decisions/0009)
                mean = _cell_means(obs, pred, [f for f in obs if f != "normal"], A, S)
                alpha = pt.inc_subtensor(alpha[:, own], -mean[:, own])
        if panel_level and (~is_normal).any():
            # the intercept is the signal's level at the panel's average latent: the panel's
            # overall level enters no likelihood, so it cannot trade off against the pooled
            # intercepts (docs/decisions/0017). The average is over every ally and month, not
            # over the observations, so the model without one observation is this model less
            # that observation's term (leave-one-out and PSIS attribution rely on it)
            cols = np.flatnonzero(~is_normal)
            alpha = pt.inc_subtensor(alpha[:, cols], -lam_as[:, cols] * theta.mean())
        if spec.intercepts == "ally" or panel_level:
            alpha = pm.Deterministic("intercept", alpha, dims=("ally", "signal"))

        count_signals = [k for k, f in enumerate(design.families_of) if f == "negbin"]
        if count_signals:
            model.add_coord("negbin_signal", [design.indicators[k] for k in count_signals])
            od = pm.HalfNormal("overdispersion", pr.overdispersion_scale, dims="negbin_signal")
            # log of NegBin's alpha = 1/od² per signal (0 for signals of other families)
            log_alpha_nb = pt.zeros(S)
            log_alpha_nb = pt.set_subtensor(log_alpha_nb[count_signals], -2.0 * pt.log(od))
        normal_signals = np.flatnonzero(is_normal).tolist()
        if normal_signals:
            model.add_coord("normal_signal", [design.indicators[k] for k in normal_signals])
            # per ally: sources and reporting differ by ally (and a seasonal deployment pattern
            # in one ally's series is noise there, not a reason to inflate its latent)
            om_excess = pm.HalfNormal("noise_excess", pr.noise_scale,
                                      dims=("ally", "normal_signal"))
            om = pm.Deterministic("noise", pr.noise_floor + om_excess,
                                  dims=("ally", "normal_signal"))
            omega = pt.ones((A, S))
            omega = pt.set_subtensor(omega[:, normal_signals], om)

        for fam, b in obs.items():
            eta_obs = alpha[b["ally"], b["signal"]] + pred[fam]
            name = f"{fam}_indicators"
            if fam == "poisson":
                pm.Poisson(name, mu=pt.exp(eta_obs), observed=b["value"])
            elif fam == "negbin":
                negbin_observed(name, eta_obs, log_alpha_nb, b["signal"], b["value"])
            elif fam == "normal":
                pm.Normal(name, mu=eta_obs, sigma=omega[b["ally"], b["signal"]],
                          observed=b["value"])
            elif fam == "bernoulli":
                pm.Bernoulli(name, logit_p=eta_obs, observed=b["value"])

        # ---------------------------------------------------------------- outcome (hedging)
        ho_center = pm.Data("outcome_center", design.outcome_center)
        ho = _ally_parameter("outcome_intercept", ho_center, pr.intercept_sd,
                             pr.intercept_pooling_scale, partial)
        if not (average or panel_level):
            ho = pm.Deterministic("outcome_intercept", ho, dims="ally")
        if design.outcome_sign != 0:
            log_k = _ally_parameter("outcome_loading_log", pr.outcome_loading_log_mean,
                                    pr.outcome_loading_log_sd,
                                    pr.outcome_loading_spread_scale, partial)
            kappa = design.outcome_sign * pt.exp(log_k)
        else:
            kappa = _ally_parameter("outcome_loading", 0.0, pr.loading_scale, pr.pooling_scale,
                                    partial)
        kappa = pm.Deterministic("outcome_loading", kappa, dims="ally")
        outcome_index = pm.Data("outcome_index", np.stack([design.outcome_ally,
                                                           design.outcome_t]))
        oa, ot = outcome_index[0], outcome_index[1]
        ov = pm.Data("outcome_value", design.outcome_value)
        lat_h = theta[oa, ot - 1]  # the month before each observed count
        if panel_level:
            # at the panel's average latent: the allies' average of κ[a]·(a's mean latent), one
            # number for all allies (κ[a]·mean latent per ally made 7 divergences in 6 fits of
            # a new catalog against 2; docs/decisions/0017)
            ho = pm.Deterministic("outcome_intercept",
                                  ho - (kappa * theta.mean(axis=1)).mean(), dims="ally")
        if average:
            # at the ally's average latent over the months before its observed counts
            ho = pm.Deterministic("outcome_intercept",
                                  ho - kappa * _group_mean(A, oa, lat_h), dims="ally")
        eta_h = ho[oa] + kappa[oa] * lat_h
        if spec.outcome_drift:
            # hedging's level across allies, one a year: a walk of yearly steps from the first
            # year (a step into it would be sampled from its prior alone), centred on its mean
            # over the years so that the ally intercepts stay the average level
            # (docs/decisions/0032)
            if "drift_step" not in model.coords:
                model.add_coord("drift_step", list(design.years[1:]))
            h_tau = pm.LogNormal("outcome_drift_tau", np.log(pr.outcome_drift_scale),
                                 pr.drift_log_sd)
            h_z = pm.Normal("outcome_drift_z", 0.0, 1.0, dims="drift_step")
            h_walk = pm.Deterministic("outcome_drift", centred_walk(h_tau * h_z), dims="year")
            year_of = pm.Data("outcome_year", design.month_year[design.outcome_t])
            eta_h = eta_h + h_walk[year_of]
        if design.outcome_family == "negbin":
            if pr.outcome_overdispersion_prior == "gamma":
                # no mass at 0: a half-normal's lower tail, which the log transform stretches,
                # failed a fit's tail ESS once the walk took the yearly variation
                # (docs/decisions/0032)
                h_od = pm.Gamma("outcome_overdispersion", alpha=2.0,
                                beta=2.4 / pr.overdispersion_scale)
            else:
                h_od = pm.HalfNormal("outcome_overdispersion", pr.overdispersion_scale)
            negbin_observed(OBSERVED_OUTCOME, eta_h, (-2.0 * pt.log(h_od))[None],
                            pt.zeros_like(oa), ov)
        else:
            pm.Poisson(OBSERVED_OUTCOME, mu=pt.exp(eta_h), observed=ov)
    return model
