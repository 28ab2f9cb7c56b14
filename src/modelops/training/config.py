"""The versioned training configuration (configs/train.json), loaded by Metaflow's `Config`.

Per-run choices are flow Parameters (`--budget-minutes`, `--candidates`, ...); what is searched
(each family's space, its first trial, its share of the budget), what counts as good enough
(thresholds) and how promotion weighs noise live here, reviewed like code.

The file is validated with pydantic before anything is fitted: an unknown key, a wrong type, a
threshold on a metric the task does not report or a parameter the estimator does not take is a
`ConfigError` naming the key's path (`search.families.catboost.space.depht`). Keys that start
with `_` are comments.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelops import paths
from modelops.errors import ConfigError, user_errors
from modelops.metrics import METRICS
from modelops.schema import Schema, Task
from modelops.training.candidates import FAMILIES, parameter_names

# the families candidates.py can build: a config key naming another is refused with its path
FamilyName = Literal[tuple(FAMILIES)]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Space(_Strict):
    """One searched parameter: an int or float range (optionally log-scaled) or choices."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    def clip(self, value: Any) -> Any:
        """`value` moved inside the bounds (choices are left alone)."""
        if self.type == "categorical":
            return value
        clipped = min(max(value, self.low), self.high)
        return int(clipped) if self.type == "int" else clipped

    @model_validator(mode="after")
    def _bounds(self) -> Space:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical space needs non-empty 'choices'")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError("a numeric space needs 'low' <= 'high'")
        elif self.log and self.low <= 0:
            raise ValueError("a log-scaled space needs 'low' > 0")
        return self


class Bounds(_Strict):
    """A tier's change to a space (new bounds or choices, and `default`, the first trial's
    value on such tables), or to a fixed parameter (`value`)."""

    low: float | None = None
    high: float | None = None
    choices: list[Any] | None = None
    value: Any = None
    default: Any = None


class TaskBlock(_Strict):
    """Fixed parameters, the first trial (`defaults`), the `portfolio` tried next and the
    searched `space`.

    The portfolio is a short list of configurations known to do well on many tables (the
    libraries' own defaults, for one), tried in order before the optimiser proposes any: a
    small table gets them all in seconds, so the search never ends worse than a user's untuned
    fit. An entry changes the defaults (what it does not name stays at the defaults) and may
    set parameters outside the space for that trial only.
    """

    fixed: dict[str, Any] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    portfolio: list[dict[str, Any]] = Field(default_factory=list)
    space: dict[str, Space] = Field(default_factory=dict)

    def first_trials(self) -> list[dict[str, Any]]:
        """The defaults, then each portfolio entry over them, in order, each once."""
        trials: list[dict[str, Any]] = []
        for params in [self.defaults] + [self.defaults | entry for entry in self.portfolio]:
            if params not in trials:  # an entry the tier's bounds clipped onto another
                trials.append(params)
        return trials


class FamilySearch(TaskBlock):
    """A family's search: shared block, per-task blocks, tier overrides, budget share, cost."""

    share: float = Field(gt=0, le=1)
    seconds_per_mcell: float = Field(default=1.0, gt=0)  # one fold fit, per million cells
    n_jobs: int | None = None
    # the best trial's refit, fitted with this many seeds and averaged (a `SeedBag`)
    refit_seeds: int = Field(default=1, ge=1, le=20)
    regression: TaskBlock | None = None
    classification: TaskBlock | None = None
    overrides: dict[str, dict[str, Bounds]] = Field(default_factory=dict)

    def searched(self) -> set[str]:
        """Every parameter this family searches, for either task."""
        return {name for block in self._blocks() for name in block.space}

    def fixed_anywhere(self) -> set[str]:
        """Every parameter this family fixes, for either task."""
        return {name for block in self._blocks() for name in block.fixed}

    def _blocks(self) -> list[TaskBlock]:
        return [self, self.regression or TaskBlock(), self.classification or TaskBlock()]

    def for_task(self, task: Task) -> TaskBlock:
        """Shared block with the task family's block (`regression` / `classification`) on top."""
        extra = self.regression if task == "regression" else self.classification
        extra = extra or TaskBlock()
        return TaskBlock(
            fixed=self.fixed | extra.fixed,
            defaults=self.defaults | extra.defaults,
            portfolio=self.portfolio + extra.portfolio,
            space=self.space | extra.space,
        )


class Tier(_Strict):
    """A data profile a tier applies to (every given bound must hold)."""

    min_rows: int | None = None
    max_rows: int | None = None
    min_columns: int | None = None
    max_columns: int | None = None
    min_cardinality: int | None = None
    max_cardinality: int | None = None

    def matches(self, profile: DataProfile) -> bool:
        checks = [
            (self.min_rows, profile.rows, 1),
            (self.max_rows, profile.rows, -1),
            (self.min_columns, profile.columns, 1),
            (self.max_columns, profile.columns, -1),
            (self.min_cardinality, profile.max_cardinality, 1),
            (self.max_cardinality, profile.max_cardinality, -1),
        ]
        return all(bound is None or (value - bound) * sign >= 0 for bound, value, sign in checks)


class DataProfile(_Strict):
    """What the search spaces scale with."""

    rows: int
    columns: int
    max_cardinality: int

    @classmethod
    def of(cls, schema: Schema, rows: int) -> DataProfile:
        cards = [len(c.categories) for c in schema.columns if c.kind == "categorical"]
        return cls(rows=rows, columns=len(schema.columns), max_cardinality=max(cards, default=0))


class AutoBudget(_Strict):
    """`--budget-minutes auto`: minutes that grow with the work (rows x columns x classes)."""

    min_minutes: float = Field(default=0.2, gt=0)
    max_minutes: float = Field(default=1.5, gt=0)
    minutes_per_mcell: float = Field(default=2.5, ge=0)

    def minutes(self, profile: DataProfile, classes: int) -> float:
        work = profile.rows * max(profile.columns, 1) * max(classes - 1, 1) / 1e6
        return min(
            max(self.min_minutes + self.minutes_per_mcell * work, self.min_minutes),
            self.max_minutes,
        )


# How far past its share a family's first trial may run before its boosters stop at their best
# iteration so far. The first trial always finishes, so that every family has a result (its
# refit may run past), but on a 54-class table CatBoost's MultiClass fit ran for more than ten
# minutes of a 90 s share: at their share, so the run keeps to the budget (configs/train.json).
FIRST_TRIAL_GRACE = 1.0


class SearchConfig(_Strict):
    early_stopping_rounds: int = Field(default=50, ge=5)
    max_trials: int = Field(default=200, ge=1)
    # a family stops once this many trials after its portfolio brought no improvement larger
    # than its CV's own noise (0: never stop early)
    patience: int = Field(default=12, ge=0)
    first_trial_grace: float = Field(default=FIRST_TRIAL_GRACE, ge=1.0)
    # tables below this many million cells (training rows x columns) search their families in
    # one task per core, one family after another, not one task per family (0: never)
    group_below_mcells: float = Field(default=0.0, ge=0.0)
    budget: AutoBudget = AutoBudget()
    # classifiers ranked by log loss: each family's probabilities at the temperature that
    # fits its OOF predictions best (what the ranking, the ensemble and the user see)
    temperature: bool = True
    tiers: dict[str, Tier] = Field(default_factory=dict)
    families: dict[FamilyName, FamilySearch]

    @model_validator(mode="after")
    def _tiers_exist(self) -> SearchConfig:
        for name, fam in self.families.items():
            unknown = sorted(set(fam.overrides) - set(self.tiers))
            if unknown:
                raise ValueError(f"families.{name}.overrides: unknown tier(s) {unknown}")
        return self


class CVConfig(_Strict):
    small_rows: int = Field(default=1000, ge=0)  # below this many training rows ...
    small_repeats: int = Field(default=3, ge=1)  # ... repeat the CV this many times
    # ... and let boosters early-stop on this share of each fold's training rows, not on the
    # rows the fold is scored on (0: on those rows)
    small_stopping: float = Field(default=0.2, ge=0.0, lt=1.0)


class PromotionConfig(_Strict):
    min_improvement: float = Field(default=0.0, ge=0)
    bootstrap_resamples: int = Field(default=1000, ge=0)  # 0: compare point estimates
    confidence: float = Field(default=0.9, gt=0, lt=1)


class EnsembleConfig(_Strict):
    enabled: bool = True
    iterations: int = Field(default=40, ge=1)
    bags: int = Field(default=1, ge=1)  # greedy runs on bootstrap resamples, weights averaged
    # lighter members dropped and the weights re-chosen; only where the CV is not repeated
    min_weight: float = Field(default=0.0, ge=0.0, lt=1.0)
    # members pruned, the most expensive first, while the blend loses no more than this share
    # of the best member's CV standard error (0: never pruned for speed)
    speed_tolerance: float = Field(default=0.5, ge=0.0)


class TrainConfig(_Strict):
    thresholds: dict[Task, dict[str, float]] = Field(default_factory=dict)
    promotion: PromotionConfig = PromotionConfig()
    min_class_rows: int = Field(default=10, ge=2)
    reference_rows: int = Field(default=5000, ge=1)
    n_jobs: int = -1
    # the champion must predict 1,000 rows within this many ms (measured on the training
    # machine; None: no limit); --infer-limit sets it
    infer_limit_ms: float | None = Field(default=None, gt=0)
    cv: CVConfig = CVConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    search: SearchConfig
    # columns never used as features / used even if they look like identifiers (the flow's
    # --ignore-columns and --keep-columns add to these)
    ignore_columns: list[str] = Field(default_factory=list)
    keep_columns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _thresholds_are_reported(self) -> TrainConfig:
        for task, bounds in self.thresholds.items():
            for metric in bounds:
                if metric not in METRICS[task]:
                    raise ValueError(
                        f"thresholds.{task}.{metric}: {task} does not report {metric!r}; "
                        f"it reports {sorted(METRICS[task])}"
                    )
        return self

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> TrainConfig:
        try:
            return cls.model_validate(_plain(raw))
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in err.errors()
            )
            raise ConfigError(f"config: {problems}") from None

    def with_infer_limit(self, ms: float) -> TrainConfig:
        """This config with `--infer-limit` ms per 1,000 rows (0 keeps the config's own)."""
        if ms < 0:
            raise ConfigError(f"--infer-limit {ms:g}: a number of ms per 1,000 rows, > 0 (0: none)")
        return self.model_copy(update={"infer_limit_ms": float(ms)}) if ms else self

    def family(self, name: str) -> FamilySearch:
        if name not in self.search.families:
            raise ConfigError(
                f"search.families.{name}: --candidates names {name!r}, which the config does not "
                f"search; configured: {sorted(self.search.families)}"
            )
        return self.search.families[name]

    def threads(self, name: str) -> int:
        """Threads for one family's task: its own `n_jobs`, else the global one (-1: all)."""
        own = self.family(name).n_jobs
        return self.n_jobs if own is None else own

    def task_thresholds(self, task: Task) -> dict[str, float]:
        return dict(self.thresholds.get(task, {}))

    def space(self, name: str, task: Task, profile: DataProfile) -> TaskBlock:
        """The family's block for this task, its bounds moved by every tier the data is in."""
        block = self.family(name).for_task(task)
        space, fixed = dict(block.space), dict(block.fixed)
        defaults = dict(block.defaults)
        for tier, changes in self.family(name).overrides.items():
            if not self.search.tiers[tier].matches(profile):
                continue
            for param, bounds in changes.items():
                if bounds.value is not None:
                    if param not in fixed and param in self.family(name).fixed_anywhere():
                        continue  # fixed for the other task only
                    if param not in fixed:
                        raise ConfigError(
                            f"search.families.{name}.overrides.{tier}.{param}.value: "
                            f"{param} is not one of {name}'s fixed parameters"
                        )
                    fixed[param] = bounds.value
                    continue
                if param not in space and param in self.family(name).searched():
                    continue  # the other task's parameter (the linear family's C or alpha)
                if param not in space:
                    raise ConfigError(
                        f"search.families.{name}.overrides.{tier}.{param}: not in the space"
                    )
                change = bounds.model_dump(exclude_none=True, exclude={"default"})
                space[param] = space[param].model_copy(update=change)
                if bounds.default is not None:
                    defaults[param] = bounds.default

        # the first trials stay inside the moved bounds (a small table's default depth too)
        def inside(params: dict[str, Any]) -> dict[str, Any]:
            return {k: space[k].clip(v) if k in space else v for k, v in params.items()}

        return block.model_copy(
            update={
                "fixed": fixed,
                "space": space,
                "defaults": inside(defaults),
                "portfolio": [inside(entry) for entry in block.portfolio],
            }
        )

    def check_parameters(self, names: list[str], task: Task, schema: Schema) -> None:
        """Every fixed, default and searched parameter is one the estimator takes."""
        for name in names:
            fam = self.family(name)
            known = parameter_names(name, task, schema)
            block = fam.for_task(task)
            portfolio = {k: v for entry in block.portfolio for k, v in entry.items()}
            for kind, params in (
                ("fixed", block.fixed),
                ("defaults", block.defaults),
                ("portfolio", portfolio),
                ("space", block.space),
            ):
                for param in params:
                    if param not in known:
                        where = "regression" if task == "regression" else "classification"
                        raise ConfigError(
                            f"search.families.{name}.{kind}.{param} (or .{where}.{kind}): "
                            f"unknown parameter of {name}'s {task} estimator"
                        )

    def family_groups(self, names: list[str], profile: DataProfile, lanes: int) -> list[list[str]]:
        """Which families each search task runs: one each, or on a small table one group per
        core (`lanes`), balanced by share (largest first into the lightest group), each
        group's families in order of share so the boosters come last and get what the
        families before them did not use."""
        cells = profile.rows * max(profile.columns, 1) / 1e6
        if cells >= self.search.group_below_mcells or lanes >= len(names) or lanes < 1:
            return [[n] for n in names]
        groups: list[list[str]] = [[] for _ in range(lanes)]
        for name in sorted(names, key=lambda n: (-self.family(n).share, names.index(n))):
            lightest = min(groups, key=lambda g: sum(self.family(n).share for n in g))
            lightest.append(name)
        return [sorted(g, key=lambda n: (self.family(n).share, names.index(n))) for g in groups]

    def check_budget(
        self,
        names: list[str],
        *,
        budget_seconds: float,
        profile: DataProfile,
        fits: int,
        notes: list[str] | None = None,
    ) -> dict[str, float]:
        """Each family's time limit; an error if a share cannot hold even one trial.

        A trial is `fits` fold fits; its cost is estimated from the family's
        `seconds_per_mcell` and the table's size (rows x columns). With `notes` (the budget
        was chosen automatically, not by the user), such a family is left out with a note
        instead, unless none would be left.
        """
        limits = {}
        cells = profile.rows * max(profile.columns, 1) / 1e6
        for name in names:
            fam = self.family(name)
            limit = budget_seconds * fam.share
            need = fam.seconds_per_mcell * cells * fits + 1.0
            if limit < need and notes is not None and len(names) > 1:
                notes.append(
                    f"{name} left out: its share of the automatic budget ({limit:.0f} s) is "
                    f"less than one trial needs (about {need:.0f} s); --budget-minutes "
                    f"{math.ceil(need / fam.share / 60 * 10) / 10:g} or more includes it"
                )
                continue
            if limit < need:
                raise ConfigError(
                    f"search.families.{name}.share: {fam.share:g} of --budget-minutes "
                    f"{budget_seconds / 60:g} is {limit:.1f} s, less than one trial needs "
                    f"(about {need:.1f} s for {fits} fold fits on {profile.rows} rows x "
                    f"{profile.columns} columns); raise --budget-minutes to at least "
                    f"{math.ceil(need / fam.share / 60 * 10) / 10:g} or drop {name} from "
                    "--candidates"
                )
            limits[name] = limit
        if not limits:
            raise ConfigError("no family can finish one trial in the automatic budget")
        return limits


def _plain(obj: Any) -> Any:
    """Metaflow's ConfigValue -> plain dicts and lists; keys starting with `_` are comments."""
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def validated_json(text: str) -> dict[str, Any]:
    """A config file's JSON, refused with a ConfigError unless it validates as a TrainConfig."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"config: not valid JSON: {err}") from None
    TrainConfig.from_mapping(raw)
    return raw


# TrainFlow's `Config(parser=...)`: the config is validated when the flow is loaded, so
# `argo-workflows create` refuses a bad config as `run` does, before anything is deployed;
# the user sees `error: config: ...`, not Metaflow's traceback.
parse_flow_config = user_errors(validated_json)


def load_config(path: Path | str | None = None) -> TrainConfig:
    """The config file at `path`, by default the project's `configs/train.json`."""
    source = Path(path or paths.default_config())
    try:
        raw = json.loads(source.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{source}: cannot read the training config: {err}") from err
    return TrainConfig.from_mapping(raw)
