"""Model specs: which blocks of the generative model are on, and their priors.

A spec is data, not code: ``models/<name>.toml`` is read into a frozen :class:`ModelSpec`.
A spec holds no observations, so one spec fits many panels (backtests refit it on each origin).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forecast.catalog import read_toml
from forecast.errors import SpecError, expected_one_of

__all__ = ["ModelSpec", "Priors", "load_spec", "spec_file", "available_specs"]


class Priors(BaseModel):
    """Prior scales of the hierarchical model (README, "The model in one paragraph"; the choices
    behind them in ``docs/decisions/``).

    All values are on the scale of the latent (unit stationary variance) or of standardised
    normal signals.
    """

    # nan and inf were read as priors, and the model's log-density was nan;
    # strict: a TOML value has its own type, and a quoted "2" or a true was read as a number
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)

    persistence_logit_mean: float = Field(2.0, description="Prior mean of logit φ (φ≈0.88)")
    persistence_logit_sd: float = Field(
        0.5, gt=0, description="Prior sd of the allies' mean logit φ: 80% of φ in 0.80–0.94 "
        "(half-lives 3–11 months), 90% in 0.77–0.94. The data barely inform it: with 0.75 its posterior was "
        "wider than the prior (sd 1.05, centred on the prior mean) and mixed slowest "
        "(docs/decisions/0004)")
    pooling_scale: float = Field(
        0.5, gt=0, description="Scale of the priors of between-ally spreads "
        "(forecast.model.between_ally_sd: Gamma(2, 2.4/scale), the mean and 95th percentile "
        "of HalfNormal(scale) with no mass at 0)")
    persistence_pooling_scale: float = Field(
        0.2, gt=0, description="Scale (as pooling_scale) of the allies' spread in logit persistence "
        "(with 0.5 the divergences sat where one ally's persistence neared 1: docs/decisions/0003)")
    volatility_pooling_scale: float = Field(0.3, gt=0)
    factor_share_logit_mean: float = Field(
        -1.5, description="Prior mean of the logit of the common factor's variance share "
        "(≈0.18): the common U.S. factor explains a minority of an ally's variance a priori")
    factor_share_logit_sd: float = Field(0.5, gt=0)
    factor_persistence_a: float = Field(8.0, gt=0, description="Beta(a, b) prior of ρ")
    factor_persistence_b: float = Field(2.0, gt=0)
    loading_scale: float = Field(1.0, gt=0, description="Half-normal scale of |λ|")
    disputed_loading_scale: float = Field(
        0.4, gt=0, description="Normal scale of λ for signals of catalog sign 0 (direction "
        "disputed): where experts disagree on the direction, a large effect is not expected "
        "either, and a wide prior lets the posterior split into one mode per reading "
        "(docs/decisions/0003)")
    driver_scale: float = Field(0.5, gt=0, description="Scale of the population driver effect")
    intercept_sd: float = Field(1.5, gt=0)
    intercept_pooling_scale: float = Field(1.0, gt=0)
    outcome_loading_log_mean: float = Field(-0.7, description="Prior mean of log |κ|")
    outcome_loading_log_sd: float = Field(0.75, gt=0)
    outcome_loading_pooling_scale: float | None = Field(
        0.25, gt=0, description="Scale (as pooling_scale) of the allies' spread in log |κ| "
        "(a loading of free sign keeps pooling_scale); None takes pooling_scale, as every spec "
        "did before this field. Four allies barely inform "
        "it (posterior median 0.28 and 99th percentile 1.04 against the prior's 0.35 and 1.38 "
        "at 0.5); with 0.5, three of the four divergences examined on the default data began "
        "with this spread beyond 1.3 (docs/decisions/0012)")
    noise_floor: float = Field(
        0.5, ge=0, description="Least noise sd of a standardised normal signal (units: the "
        "signal's pooled within-ally sd). A count has its Poisson noise; without a floor a "
        "smooth series can be matched exactly by the flexible latent (a Heywood case), and the "
        "posterior splits into one mode per series (docs/decisions/0003)")
    noise_scale: float = Field(0.5, gt=0, description="Half-normal scale of noise above the floor")
    overdispersion_scale: float = Field(1.0, gt=0, description="Scale of 1/sqrt(r): the "
                                        "half-normal's, and the gamma's of hedging as "
                                        "outcome_overdispersion_prior says")
    outcome_overdispersion_prior: Literal["gamma", "halfnormal"] = Field(
        "gamma", description="Prior of hedging's 1/sqrt(r): gamma, Gamma(2, 2.4/"
        "overdispersion_scale), the half-normal's mean and 95th percentile with no mass at 0; "
        "halfnormal, HalfNormal(overdispersion_scale), whose lower tail reached 0.025 and made "
        "a fit fail on its tail ESS once hedging's level walked (docs/decisions/0032)")
    drift_scale: float = Field(0.25, gt=0, description="Prior median of the sd of yearly drift "
                               "steps (standardised units)")
    drift_log_sd: float = Field(
        0.3, gt=0, description="Prior sd of the log of the drift step sd. Log-normal, not "
        "half-normal: a drifting signal's walk cannot collapse to a constant, where the latent "
        "would have to carry the series' trend instead (docs/decisions/0003)")
    outcome_drift_scale: float = Field(
        0.25, gt=0, description="Prior median of the sd of the yearly steps of the hedging "
        "level's walk (outcome_drift = true; log-rate units), log-normal with drift_log_sd")

    @property
    def outcome_loading_spread_scale(self) -> float:
        """The scale of the allies' spread in log |κ|: ``outcome_loading_pooling_scale``, or
        ``pooling_scale`` where that is None (as in specs from before the field).

        Examples
        --------
        >>> Priors().outcome_loading_spread_scale
        0.25
        >>> Priors(outcome_loading_pooling_scale=None).outcome_loading_spread_scale
        0.5
        """
        if self.outcome_loading_pooling_scale is None:
            return self.pooling_scale
        return self.outcome_loading_pooling_scale


class ModelSpec(BaseModel):
    """Which blocks of the model are on.

    Examples
    --------
    >>> spec = load_spec("default")
    >>> spec.dynamics, spec.pooling
    ('ar1', 'partial')
    >>> load_spec("static").dynamics
    'static'
    """

    # nan and inf were read as priors, and the model's log-density was nan;
    # strict: common_factor = "no" or drivers = 1 was read as a switch (the catalog's
    # drifts = "no" is refused too)
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)

    name: str = "default"
    description: str = ""
    dynamics: Literal["ar1", "static"] = Field(
        "ar1", description="ar1: persistent monthly states; static: independent months (φ = 0)")
    pooling: Literal["partial", "none"] = Field(
        "partial", description="partial: ally parameters drawn from estimated populations; "
        "none: each ally on its own, fixed priors around fixed centres (no learnt common mean), "
        "unit stationary variance per ally")
    common_factor: bool = Field(True, description="Common U.S. factor g[t] with ally loadings")
    drivers: bool = Field(True, description="Driver signals enter the state equation")
    driver_effects: Literal["shared", "pooled"] = Field(
        "shared", description="shared: one effect per driver for every ally; pooled: ally "
        "effects pooled around it (with pooling = \"partial\"; see docs/decisions/0004)")
    loadings: Literal["shared", "pooled"] = Field(
        "shared", description="shared: one loading per signal; pooled: ally loadings pooled "
        "around it")
    intercepts: Literal["ally", "shared"] = Field(
        "ally", description="ally: each ally's signal intercepts pooled, credibility measured "
        "relative to the ally's own long-run level; shared: intercepts common to allies and "
        "ally levels μ[a] estimated (cross-ally level comparison, a strong assumption)")
    intercept_reference: Literal["zero", "average", "panel"] = Field(
        "zero", description="Where the count, binary and hedging intercepts sit: zero: at "
        "latent 0; average (with intercepts = \"ally\"): at the ally's average latent over "
        "the months that signal is observed (normal signals always are), so an ally's average "
        "level enters no likelihood and cannot trade off against its intercepts "
        "(docs/decisions/0009); the model then depends on which cells are observed, which "
        "PSIS attribution and leave-one-out assume it does not (docs/decisions/0017); "
        "panel: at the panel's average latent over every ally and month, "
        "so the panel's overall level enters no count's likelihood and cannot trade off "
        "against the pooled intercepts, while allies' levels relative to one another still do "
        "(docs/decisions/0017)")
    count_family: Literal["catalog", "poisson", "negbin"] = Field(
        "catalog", description="Override the family of count indicators")
    drift: tuple[str, ...] = Field(
        ("catalog",), description="Signals whose ally intercepts follow a slow yearly random "
        "walk (default: those the catalog marks, docs/decisions/0020; () for none); the "
        "keyword \"coarse\" stands for every quarterly or annual indicator (slow structural "
        "series whose trends are not credibility), \"catalog\" for the indicators the catalog "
        "marks `drifts = true`")
    outcome_drift: bool = Field(
        True, description="The hedging outcome's level follows a slow yearly random walk "
        "common to the allies (centred on its mean over the years, so the ally intercepts "
        "stay the average level), carried into forecasts with its step sd: hedging that "
        "rises or falls across allies for reasons the latent does not measure: on the "
        "embedded data it took the forecasts' share of months with an act from half the "
        "share seen to near it (docs/decisions/0032)")
    parameterisation: Literal["noncentred", "centred"] = Field(
        "noncentred", description="Latent-state geometry (see docs/decisions)")
    intercept_parameterisation: Literal["noncentred", "centred", "auto", "polar",
                                        "auto_polar"] = Field(
        "auto_polar", description="Geometry of the allies' count and binary intercept "
        "offsets around intercept_mu (the same ZeroSumNormal(τ) prior in each): noncentred, "
        "τ·z with z ~ ZeroSumNormal(1); centred, the offsets themselves; polar, their "
        "length (squared: τ²·χ²(allies − 1)) and their direction (a ZeroSumNormal(1) vector "
        "over its length); auto and auto_polar, centred or polar for each signal of which "
        "every ally has at least centred_intercept_events events "
        "(Design.intercept_events) and noncentred for the others. Centred diverges where events are few, as in the "
        "embedded data, and auto diverged more than noncentred on a new catalog "
        "(docs/decisions/0013); auto_polar took that catalog's divergences in 24 fits from "
        "19 to 7, while polar for every signal left a chain stuck on the embedded data's "
        "sparse counts (docs/decisions/0035). With one ally or pooling = \"none\" there is "
        "no spread and the offsets stay as they are")
    intercept_mu_coordinates: Literal["panel_level", "direct"] = Field(
        "panel_level", description="The coordinates in which the sampler moves the pooled "
        "count and binary intercepts (with intercept_reference = \"zero\" and a learnt "
        "intercept_mu: not with ally intercepts and pooling = \"none\"): panel_level "
        "samples intercept_level = intercept_mu + λ·θ̄ (λ the signal's population loading), "
        "the signal's log-rate at the panel's "
        "average latent θ̄, and derives intercept_mu; direct samples intercept_mu. The model "
        "and its posterior are the same; sampled directly, intercept_mu and the panel's "
        "overall level lay along a ridge: on a 96-month panel panel_level took the divergences "
        "of 12 fits from 17 to 7 and their least bulk ESS from a median of 652 to 824 "
        "(docs/decisions/0033)")
    centred_intercept_events: int = Field(
        50, ge=1, description="With intercept_parameterisation = \"auto\" or \"auto_polar\": "
        "the fewest events of a signal, in every ally, for its intercept offsets to be "
        "centred or polar (in the embedded "
        "data the best-informed signal, exercise_tempo, has 20 in its sparsest ally; "
        "summit_tempo 17, spending_pledges 1, rival_arms 0; in the simulated panels that "
        "centred offsets helped, 74 and more)")
    priors: Priors = Priors()

    @field_validator("drift", mode="before")
    @classmethod
    def _drift_list(cls, value: object) -> object:
        """A TOML or JSON array is a list; strict validation takes only a tuple. A lone name
        is refused in the file's own terms, not as 'a valid tuple'."""
        if isinstance(value, str):
            raise ValueError(f'expected a list of names, e.g. drift = ["{value}"]')
        return tuple(value) if isinstance(value, list) else value

    def contradictions(self) -> list[str]:
        """Settings that another setting makes meaningless: the model would be built as if
        they were not there (checked by :func:`forecast.design.make_design`, so a spec made
        with ``model_copy(update=...)``, which skips validation, is checked too).

        Examples
        --------
        >>> load_spec("default").contradictions()
        []
        >>> load_spec("default").model_copy(update={"pooling": "none",
        ...                                          "driver_effects": "pooled"}).contradictions()
        ['driver_effects = "pooled" needs pooling = "partial" (with pooling = "none" there is no population to pool around)']
        """
        out = []
        if self.intercept_reference == "average" and self.intercepts != "ally":
            out.append('intercept_reference = "average" needs intercepts = "ally" (shared '
                       'intercepts have no ally average to sit at)')
        if self.pooling == "none":
            if self.driver_effects == "pooled":
                out.append('driver_effects = "pooled" needs pooling = "partial" (with pooling '
                           '= "none" there is no population to pool around)')
            # "auto" and "auto_polar" choose by the panel's events where there is a spread
            if self.intercept_parameterisation in ("centred", "polar"):
                out.append(f'intercept_parameterisation = "{self.intercept_parameterisation}" '
                           'needs pooling = "partial" (with pooling = "none" the intercepts '
                           'have no spread to centre)')
        return out

    def validated(self) -> "ModelSpec":
        """This spec checked as if it had been read from a file, returned as a new spec.

        ``model_copy(update=...)`` skips pydantic's validation: a misspelt setting would be
        dropped without a word and a value of the wrong kind built into the model.
        :func:`load_spec` and :func:`forecast.design.make_design` call this, so every spec
        that reaches a fit has been checked. A prior is changed with
        ``spec.priors.model_copy(update=...)``, which this checks too.

        Raises
        ------
        forecast.errors.SpecError
            Naming the setting and what is wrong with it.

        Examples
        --------
        >>> spec = load_spec("default")
        >>> spec.model_copy(update={"drift": ["catalog"]}).validated() == spec
        True
        >>> spec.model_copy(update={"dynamic": "static"}).validated()
        Traceback (most recent call last):
        ...
        forecast.errors.SpecError: key 'dynamic': unknown setting of spec 'default': expected one of name, description, dynamics, pooling, common_factor, drivers, driver_effects, loadings, intercepts, intercept_reference, count_family, drift, … (did you mean 'dynamics'?)
        """
        values = _settings(self, "")
        if not isinstance(values["priors"], Priors):
            raise SpecError(
                f"spec {self.name!r}: priors must be a Priors, not "
                f"{type(values['priors']).__name__}: change one with "
                "spec.priors.model_copy(update={...}), so the spec's other priors stay",
                key="priors")
        values["priors"] = _checked(Priors, _settings(values["priors"], "priors."),
                                    self.name, "priors.")
        return _checked(ModelSpec, values, self.name)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): stored with every saved fit."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        """The spec stored with a fit (:meth:`to_json`, every field written). A field added
        since it was stored takes the value its draws were made with, not today's default:
        ``outcome_loading_pooling_scale`` None, the shared scale; ``outcome_drift`` false, no
        walk of the hedging level; ``outcome_overdispersion_prior`` the half-normal;
        ``intercept_mu_coordinates`` direct."""
        try:
            raw = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise SpecError(f"not a spec's JSON ({exc})", parameter="text") from None
        if not isinstance(raw, dict):
            raise SpecError(f"not a spec's JSON: expected an object, found "
                            f"{type(raw).__name__}", parameter="text") from None
        if isinstance(raw.get("priors"), dict):
            raw["priors"].setdefault("outcome_loading_pooling_scale", None)
            raw["priors"].setdefault("outcome_overdispersion_prior", "halfnormal")
        raw.setdefault("outcome_drift", False)
        raw.setdefault("intercept_mu_coordinates", "direct")
        # pydantic's ValidationError named the setting but no spec; _checked says both
        return _checked(cls, raw, spec_name=str(raw.get("name", "?")))

    def hash(self) -> str:
        """SHA-256 of the canonical JSON."""
        return json_hash(self.to_json())


def _settings(model: BaseModel, prefix: str) -> dict:
    """A pydantic model's values as set, refusing a name that is not one of its fields (which
    ``model_copy(update=...)`` would have stored without a word)."""
    values = dict(vars(model))
    fields = list(type(model).model_fields)
    for name in values:
        if name not in fields:
            of = "the priors" if prefix else f"spec {values.get('name')!r}"
            raise SpecError(f"unknown setting of {of}" + expected_one_of(name, fields),
                            key=prefix + name)
    return values


def _checked(kind: type[BaseModel], values: dict, spec_name: str | None = None,
             prefix: str = "", file: Path | None = None):
    """``kind`` validated from ``values``, or a :class:`SpecError` naming the first problem
    (its setting, value, and the spec or file)."""
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = prefix + ".".join(str(part) for part in err["loc"])
        of = f"spec {spec_name!r}: " if spec_name is not None else ""
        message = err["msg"]
        if err["type"] == "extra_forbidden":  # pydantic's "Extra inputs are not permitted"
            message = _unknown_setting(kind, err["loc"])
        raise SpecError(of + message, file=None if file is None else str(file),
                        column=where if file is not None else None,
                        key=None if file is not None else where, value=err.get("input")) from None


def _unknown_setting(kind: type[BaseModel], loc: tuple) -> str:
    """What :func:`_settings` says of a name that is no field, for the model at ``loc``
    (``("priors", "loading_scal")`` is a setting of the priors)."""
    for part in loc[:-1]:
        field = kind.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type)
                                 and issubclass(field.annotation, BaseModel)):
            break
        kind = field.annotation
    of = "the priors" if kind is Priors else "the spec"
    return f"unknown setting of {of}" + expected_one_of(str(loc[-1]), list(kind.model_fields))


def json_hash(text: str) -> str:
    """SHA-256 of a spec's JSON in canonical form (sorted keys).

    A fit saved before a spec field was added stores JSON without it; its hash is checked
    against the text as stored, so the file still loads (the missing field takes the value
    the fit's draws were made with: :meth:`ModelSpec.from_json`).

    Examples
    --------
    >>> spec = load_spec("default")
    >>> json_hash(spec.to_json()) == spec.hash()
    True
    """
    return hashlib.sha256(json.dumps(json.loads(text), sort_keys=True).encode()).hexdigest()


def _models_dir() -> Path:
    from forecast.datasets import default_paths

    return Path(default_paths().models_dir)


def available_specs() -> list[str]:
    """Names of the specs shipped in ``models/``.

    Examples
    --------
    >>> "default" in available_specs()
    True
    """
    return sorted(p.stem for p in _models_dir().glob("*.toml"))


def spec_file(spec: "str | Path") -> Path:
    """The TOML file that a spec name or path means: ``models/NAME.toml`` for a shipped name,
    the file itself for a path (one that ends in ``.toml`` or has a folder part, or a file of
    that name in the working folder).

    Raises
    ------
    forecast.SpecError
        Naming the file or the name: a path to nothing or to a folder, a file that is not
        ``.toml`` (``README.md``), a name no spec is shipped under (with the nearest).

    Examples
    --------
    >>> spec_file("static").name
    'static.toml'
    >>> spec_file("statci")
    Traceback (most recent call last):
    ...
    forecast.errors.SpecError: parameter 'spec', value 'statci': unknown spec: expected one of default, drift, static, unpooled or a path to a .toml spec (did you mean 'static'?)
    """
    path, said = Path(spec), str(spec)  # errors name the file as it was given
    toml = path.suffix.lower() == ".toml"
    if not toml and path.parent == Path("."):  # a name: a shipped spec's, or a file here
        shipped = _models_dir() / f"{spec}.toml"
        if shipped.is_file():
            return shipped
        if not path.exists():
            raise SpecError("unknown spec" + expected_one_of(said, available_specs(),
                                                             also="a path to a .toml spec"),
                            parameter="spec", value=said)
    expected = ("expected a shipped spec name (" + ", ".join(available_specs())
                + ") or a path to a .toml spec")
    if path.is_dir():
        raise SpecError(f"a folder, not a spec file: {expected}", file=said)
    if not path.is_file():
        raise SpecError(f"spec file not found: {expected}", file=said)
    if not toml:  # README.md was "no shipped spec named"
        raise SpecError(f"not a .toml spec file: {expected}", file=said)
    return path


def load_spec(spec: "str | Path | ModelSpec") -> ModelSpec:
    """A spec from a shipped name (``"default"``), a TOML path, or a :class:`ModelSpec`.

    Examples
    --------
    >>> load_spec("unpooled").pooling
    'none'
    """
    if isinstance(spec, ModelSpec):
        return spec.validated()
    if not isinstance(spec, (str, Path)):
        raise SpecError("expected a spec: a shipped name (" + ", ".join(available_specs())
                        + "), a .toml path or a ModelSpec", value=repr(spec))
    path = spec_file(spec)
    raw = read_toml(path, "spec", SpecError)
    raw.setdefault("name", path.stem)
    spec = _checked(ModelSpec, raw, file=path)
    refuse_contradictions(spec, file=str(path))  # here too, so that the message names the file
    return spec


def refuse_contradictions(spec: ModelSpec, **where) -> None:
    """A :class:`SpecError` for the first of the spec's :meth:`~ModelSpec.contradictions`,
    at ``where`` (the spec's file, or the parameter it came by); nothing where there is none.

    Examples
    --------
    >>> refuse_contradictions(load_spec("default"), parameter="spec")
    """
    if said := spec.contradictions():
        raise SpecError(f"spec {spec.name!r}: {said[0]}", **where)
