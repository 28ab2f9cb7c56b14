"""TrainFlow: validate data, fit candidates in parallel, select, register and promote.

    python flows/train_flow.py run                      # bundled diamonds, all candidates
    python flows/train_flow.py run --help               # every parameter explained
    python flows/train_flow.py card view register       # leaderboard, plots, decision

Each step calls one function of `modelops.training.steps`; the logic and its tests live there. The
library is imported inside steps so that each task's process starts fast.

`@schedule` only matters to a scheduler: `argo-workflows create` deploys a weekly retrain
(`run` ignores it). Drift-triggered retraining is the monitor workflow's job.
"""

import os

from metaflow import Config, FlowSpec, Parameter, card, current, resources, schedule, step

HERE = os.path.dirname(os.path.abspath(__file__))


@schedule(weekly=True)
class TrainFlow(FlowSpec):
    """Train candidate models, pick the best, and promote it if it beats production."""

    config = Config(
        "config",
        default=os.path.join(HERE, "..", "configs", "train.json"),
        help="JSON file with candidate grids, validation thresholds and the promotion margin.",
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
        default="linear,random_forest,hist_gradient_boosting,catboost",
        help="Comma-separated candidate models to fit in parallel: "
        "linear, random_forest, hist_gradient_boosting, catboost.",
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
        help="Cross-validation folds used to rank candidates (<2: no CV, rank on the holdout).",
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
        help="auto: promote if thresholds pass and it beats production on the same holdout; "
        "never: register only; always: promote regardless.",
    )
    sample_rows = Parameter(
        "sample-rows", default=0, type=int, help="Train on a random sample of N rows (0 = all)."
    )

    @step
    def start(self):
        """Load and validate the data, split it, and decide what to fit."""
        from modelops import configure_logging
        from modelops.training import steps
        from modelops.training.config import TrainConfig

        configure_logging()
        self.train_config = TrainConfig.from_mapping(self.config)
        self.prepared = steps.prepare_training(
            data=self.data,
            target=self.target,
            task=self.task,
            candidates=self.candidates,
            metric=self.metric,
            test_size=self.test_size,
            seed=self.seed,
            sample=self.sample_rows,
            model_name=self.model_name,
            config=self.train_config,
        )
        p = self.prepared
        print(
            f"{p.source}: {p.n_rows} rows, task {p.task}, metric {p.metric}, model {p.model_name}"
        )
        self.specs = p.candidates
        print(f"{len(self.specs)} candidate configurations: {[s.label for s in self.specs]}")
        self.next(self.train_candidate, foreach="specs")

    @resources(cpu=2, memory=8000)
    @step
    def train_candidate(self):
        """Fit one candidate configuration: CV, refit, holdout metrics (W&B logs it in the join)."""
        from modelops import configure_logging
        from modelops.training import steps

        configure_logging()
        self.result = steps.fit_candidate(
            spec=self.input,
            prep=self.prepared,
            config=self.train_config,
            cv_folds=self.cv_folds,
            seed=self.seed,
        )
        self.score = self.result.score()
        print(self.result.summary())
        self.next(self.select)

    @step
    def select(self, inputs):
        """Rank the candidates on their scores; carry on only the winner's fitted pipeline."""
        from modelops.training import steps

        self.merge_artifacts(inputs, include=["prepared", "train_config"])
        self.scores = [i.score for i in inputs]
        self.selection = steps.select(
            scores=self.scores, load=lambda k: inputs[k].result, prep=self.prepared
        )
        print(self.selection.board.to_string(index=False))
        self.next(self.register)

    @card(type="blank", id="selection")
    @step
    def register(self):
        """Log the run to W&B, register the best candidate, promote it if it beats production."""
        from modelops import configure_logging
        from modelops.registry import open_registry
        from modelops.training import steps

        configure_logging()
        steps.log_training(
            prep=self.prepared, scores=self.scores, sel=self.selection, group=current.run_id
        )
        self.outcome = steps.register_step(
            registry=open_registry(),
            prep=self.prepared,
            best=self.selection.best,
            policy=self.promotion,
            config=self.train_config,
            run_pathspec=current.pathspec,
            group=current.run_id,
        )
        o = self.outcome
        verdict = "promoted to production" if o.decision.promote else "not promoted"
        print(f"{o.model_name} v{o.version} ({self.selection.best.label}) {verdict}:")
        for reason in o.decision.reasons:
            print(f"  - {reason}")
        self.registered_version = o.version
        self.promoted = o.decision.promote
        self.production_version = o.production_version
        self.challenger_metrics = self.selection.best.holdout
        for part in steps.selection_card(
            sel=self.selection, prep=self.prepared, outcome=o, seed=self.seed
        ):
            current.card.append(part)
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do: registered_version, promoted and production_version are artifacts."""


if __name__ == "__main__":
    TrainFlow()
