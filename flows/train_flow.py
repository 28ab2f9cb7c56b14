"""TrainFlow: validate data, search model families in parallel, ensemble, register, promote.

    python flows/train_flow.py run                      # bundled diamonds, all families
    python flows/train_flow.py run --help               # every parameter explained
    python flows/train_flow.py card view register       # leaderboard, plots, decision

Each step calls one function of `modelops.training.steps`; the logic and its tests live there. The
library is imported inside steps so that each task's process starts fast.

`@schedule` only matters to a scheduler: `argo-workflows create` deploys a weekly retrain
(`run` ignores it). Drift-triggered retraining is the monitor workflow's job.
"""

import os

from metaflow import Config, FlowSpec, Parameter, card, current, resources, schedule, step

from modelops.errors import user_errors  # light: no model libraries imported

HERE = os.path.dirname(os.path.abspath(__file__))


@schedule(weekly=True)
class TrainFlow(FlowSpec):
    """Train candidate models, pick the best, and promote it if it beats production."""

    config = Config(
        "config",
        default=os.path.join(HERE, "..", "configs", "train.json"),
        help="JSON file with each family's search space and budget share, validation "
        "thresholds and the promotion rule (configs/train.json).",
        parser="modelops.training.config.parse_flow_config",  # validated on load, deploys too
    )
    data = Parameter(
        "data",
        default="diamonds",
        help="CSV or Parquet file to train on, or a bundled dataset name: diamonds "
        "(regression, target price) or breast_cancer (binary, target diagnosis).",
    )
    target = Parameter(
        "target", default="", help="Column to predict (default: the bundled dataset's target)."
    )
    task = Parameter(
        "task",
        default="auto",
        help="regression, binary, multiclass, or auto (numeric with many values -> regression).",
    )
    candidates = Parameter(
        "candidates",
        default="all",
        help="Comma-separated model families, each searched in its own task, or all (the "
        "default): every family in modelops.training.families, today linear, random_forest, "
        "extra_trees, hist_gradient_boosting, catboost, lightgbm, xgboost.",
    )
    budget_minutes = Parameter(
        "budget-minutes",
        default="auto",
        help="Wall-clock minutes for the search, or auto (the default: from 0.2 minutes for a "
        "small table to 1.2 for diamonds and 1.5 at most, growing with rows x columns x "
        "classes; printed at the start; a family whose share cannot hold one trial is left "
        "out with a note). Each family task searches for its share of it "
        "(search.families.<name>.share in the config) and refits its best trial inside it; "
        "the tasks run side by side, so more workers (--with kubernetes) mean more trials, "
        "not a longer run.",
    )
    metric = Parameter(
        "metric",
        default="auto",
        help="Selection metric. auto = rmse (regression), roc_auc (binary), log_loss (multiclass). "
        "Also: mae, r2 | log_loss, f1, accuracy | f1_macro, accuracy.",
    )
    test_size = Parameter(
        "test-size",
        default=0.2,
        type=float,
        help="Share of rows held out for the final comparison.",
    )
    cv_folds = Parameter(
        "cv-folds",
        default=3,
        type=int,
        help="Cross-validation folds every family is scored on (the same folds for all, so "
        "their out-of-fold predictions build the ensemble); fewer when the smallest class has "
        "fewer training rows; repeated on small tables (config cv.small_rows).",
    )
    infer_limit = Parameter(
        "infer-limit",
        default=0.0,
        type=float,
        help="The champion must predict 1,000 rows within this many CPU milliseconds, as "
        "measured on the training machine (0, the default: no limit). Slower families are "
        "not chosen and the ensemble drops members until it fits. Without it, members are "
        "still dropped where the rest do as well within the CV's noise.",
    )
    seed = Parameter("seed", default=42, type=int, help="Seed for the split, sampling and models.")
    model_name = Parameter(
        "model-name",
        default="",
        help="Registered model name (default: <dataset>-<target>, so each dataset has its own "
        "champion).",
    )
    promotion = Parameter(
        "promotion",
        default="auto",
        help="auto: promote if it beats production (or, for a first model, the training mean "
        "or class prior) on the same holdout rows by more than noise (paired bootstrap, config "
        "promotion.*) and passes any thresholds the config sets; never: register only; "
        "always: promote regardless. Checked in start.",
    )
    sample_rows = Parameter(
        "sample-rows", default=0, type=int, help="Train on a random sample of N rows (0 = all)."
    )
    delimiter = Parameter(
        "delimiter",
        default="",
        help="Field delimiter of a CSV file: one character, or tab, comma, semicolon, pipe. "
        "Default: detected (comma, semicolon, tab or pipe, and a decimal comma in "
        "semicolon-separated European CSV), printed when not plain comma-separated.",
    )
    time_column = Parameter(
        "time-column",
        default="",
        help="Column of dates (or ordered numbers) the rows happened at: the holdout becomes "
        "the latest --test-size of the rows and the CV folds chain forward (each block of "
        "time is predicted by a model fitted on the blocks before it), so a time-ordered "
        "table is not validated on shuffled rows.",
    )
    group_column = Parameter(
        "group-column",
        default="",
        help="Column of groups (customers, stores, patients): whole groups are held out and "
        "the CV folds are grouped, so no group is on both sides of a comparison.",
    )
    ignore_columns = Parameter(
        "ignore-columns",
        default="",
        help="Comma-separated columns never used as features (carried through at scoring), "
        "for identifiers or leaks detection misses; adds to the config's ignore_columns.",
    )
    keep_columns = Parameter(
        "keep-columns",
        default="",
        help="Comma-separated columns to use as features even though they look like "
        "identifiers (integers nearly all different named like id/key/no, a sequence, or a "
        "shuffled row number; text with every value different), which are left out by default.",
    )

    @step
    @user_errors
    def start(self):
        """Load and validate the data and config, split, fix the folds and each family's time."""
        from modelops import configure_logging
        from modelops.registry import open_registry
        from modelops.training import steps
        from modelops.training.config import TrainConfig

        configure_logging()
        self.train_config = TrainConfig.from_mapping(self.config).with_infer_limit(self.infer_limit)
        self.prepared = steps.prepare_training(
            data=self.data,
            target=self.target,
            task=self.task,
            candidates=self.candidates,
            metric=self.metric,
            test_size=self.test_size,
            cv_folds=self.cv_folds,
            budget_minutes=self.budget_minutes,
            seed=self.seed,
            sample=self.sample_rows,
            model_name=self.model_name,
            config=self.train_config,
            ignore_columns=self.ignore_columns,
            keep_columns=self.keep_columns,
            promotion_policy=self.promotion,
            delimiter=self.delimiter,
            time_column=self.time_column,
            group_column=self.group_column,
        )
        p = self.prepared
        steps.check_registry(registry=open_registry(), model_name=p.model_name)
        print(
            f"{p.source}: {p.n_rows} rows, task {p.task}, metric {p.metric}, model {p.model_name}, "
            f"{p.folds.description} CV"
        )
        for note in p.notes:
            print(f"  note: {note}")
        self.families = p.candidates
        self.groups = p.groups  # a search task per family, or per core on a small table
        print("search seconds per family:", {k: round(v) for k, v in p.limits.items()})
        self.next(self.search, foreach="groups")

    @resources(cpu=2, memory=8000)
    @step
    @user_errors
    def search(self):
        """Search a family's space within its share of the budget (on a small table, a group
        of families one after another); refit each one's best trial."""
        from modelops import configure_logging
        from modelops.registry.signing import withhold_key
        from modelops.training import steps
        from modelops.training.clock import process_started

        withhold_key()  # only `register` signs
        configure_logging()
        self.results = steps.search_group(
            names=self.input,
            prep=self.prepared,
            config=self.train_config,
            seed=self.seed,
            group=current.run_id,
            started=process_started(),  # the task's start counts in its share
        )
        self.scores = [r.score() for r in self.results]
        for score in self.scores:
            print(score.summary())
        self.next(self.register)

    @card(type="blank", id="selection")
    @step
    @user_errors
    def register(self, inputs):
        """Rank the families and build the greedy ensemble from their OOF predictions (the
        join), then register the champion and promote it if it beats production: one task,
        so the ensemble is not saved by one step and loaded again by the next."""
        from modelops import configure_logging
        from modelops.registry import open_registry
        from modelops.training import steps

        configure_logging()
        # the same objects in every branch (taken from one: their pickles may differ in caches)
        self.prepared, self.train_config = inputs[0].prepared, inputs[0].train_config
        self.selection = steps.select(
            scores=[s for i in inputs for s in i.scores],
            load=steps.result_loader(list(inputs)),
            prep=self.prepared,
            config=self.train_config,
            seed=self.seed,
        )
        print(steps.selection_report(self.selection, self.prepared.metric))
        review = steps.review_champion(sel=self.selection, prep=self.prepared, seed=self.seed)
        if review.warning:
            print(f"WARNING: {review.warning}")
        self.leak_warning = review.warning
        self.outcome = steps.register_step(
            registry=open_registry(),
            prep=self.prepared,
            sel=self.selection,
            policy=self.promotion,
            config=self.train_config,
            run_pathspec=current.pathspec,
            seed=self.seed,
            group=current.run_id,
            resumed_from=(
                f"{current.flow_name}/{current.origin_run_id}" if current.origin_run_id else None
            ),
            review=review,
            parameters={name: getattr(self, name) for name in current.parameter_names},
        )
        o = self.outcome
        print(steps.outcome_report(o, self.selection.best.label))
        self.registered_version = o.version
        self.promoted = o.decision.promote
        self.production_version = o.production_version
        self.challenger_metrics = self.selection.best.holdout
        for part in steps.selection_card(
            sel=self.selection, prep=self.prepared, outcome=o, review=review
        ):
            current.card.append(part)
        self.next(self.end)

    @step
    @user_errors
    def end(self):
        """Nothing left to do: registered_version, promoted and production_version are artifacts."""


if __name__ == "__main__":
    TrainFlow()
