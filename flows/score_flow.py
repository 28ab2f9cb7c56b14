"""ScoreFlow: batch predictions from a registered model, every row accounted for, drift checked.

    python flows/score_flow.py run --input new.csv                   # -> new.predictions.csv
    python flows/score_flow.py run --input new.csv --model v3        # a specific version
    python flows/score_flow.py card view drift                       # Evidently drift report

The model is resolved in the registry (local or W&B) and its files checked against their
SHA-256 digests; the input is checked against the model's schema before scoring; rows that
cannot be scored go to `<output>.rejects.csv` with their line number and reason.
"""

from metaflow import FlowSpec, Parameter, card, current, resources, step

from modelops.errors import user_errors  # light: no model libraries imported


class ScoreFlow(FlowSpec):
    """Score a CSV or Parquet file with a registered model version and report data drift."""

    input_path = Parameter(
        "input",
        required=True,
        help="CSV or Parquet file of rows to score: a local path, or s3://bucket/key when the "
        "steps run on separate workers (then the shard parts go to the run's S3 prefix).",
    )
    output = Parameter(
        "output",
        default="",
        help="Where to write predictions (.csv or .parquet, local or s3://; default: "
        "<input>.predictions.csv next to the input). Rejected rows go to <output>.rejects.csv, "
        "the drift report to <output>.drift.html and .drift.json, beside it.",
    )
    model_name = Parameter(
        "model-name",
        default="",
        help="Registered model to use (default: the registry's only model, or the one it "
        "registered last; printed at the start).",
    )
    model = Parameter(
        "model", default="production", help="Alias (production, latest) or version (v3) to use."
    )
    delimiter = Parameter(
        "delimiter",
        default="",
        help="Field delimiter of a CSV input: one character, or tab, comma, semicolon, pipe. "
        "Default: detected (and a decimal comma in semicolon-separated European CSV), printed "
        "when not plain comma-separated.",
    )
    overwrite = Parameter(
        "overwrite", default=False, type=bool, help="Replace the output file if it exists."
    )
    max_reject_rate = Parameter(
        "max-reject-rate",
        default=0.05,
        type=float,
        help="Fail (after writing the rejects file, without publishing predictions) when more "
        "than this share of rows cannot be scored.",
    )
    drift_share = Parameter(
        "drift-share",
        default=0.1,
        type=float,
        help="Verdict is drift when at least this share of the model's columns drifted.",
    )
    drift_sample = Parameter(
        "drift-sample",
        default=10000,
        type=int,
        help="Rows sampled uniformly from the input for the drift report (bounds its cost).",
    )
    shard_mb = Parameter(
        "shard-mb",
        default=256.0,
        type=float,
        help="Split CSV input into shards of about this many MB, scored in parallel by a "
        "foreach (one worker each with --with kubernetes/batch) and merged in order.",
    )
    labels = Parameter(
        "labels",
        default="",
        help="Column of true values in the input (labels that arrived later): report the "
        "realised metrics against the model's holdout metrics, with Evidently's "
        "regression/classification report beside the output.",
    )
    neutralise_formulas = Parameter(
        "neutralise-formulas",
        default=True,
        type=bool,
        help="CSV outputs: prefix ' to carried-through text cells (and rejected lines) that start "
        "with = + - @, tab or CR, so a spreadsheet shows them as text instead of running them. "
        "Predictions are unchanged; pass False when only programs read the file.",
    )
    fail_on_drift = Parameter(
        "fail-on-drift",
        default=False,
        type=bool,
        help="Exit non-zero when drift is found (after the predictions are written).",
    )

    @step
    @user_errors
    def start(self):
        """Resolve and verify the model, check the input file, cut it into shards."""
        import time

        from modelops import configure_logging
        from modelops.registry import open_registry
        from modelops.scoring import steps

        configure_logging()
        self.started = time.time()
        self.plan = steps.plan_scoring(
            registry=open_registry(),
            model_name=self.model_name,
            ref=self.model,
            input_path=self.input_path,
            output=self.output,
            overwrite=self.overwrite,
            shard_mb=self.shard_mb,
            run_id=current.run_id,
            flow_name=current.flow_name,
            neutralise_formulas=self.neutralise_formulas,
            resumed=current.origin_run_id is not None,
            delimiter=self.delimiter,
        )
        p = self.plan
        self.shards = p.shards
        print(
            f"{p.source or p.input}: {len(p.shards)} shard(s), {p.model_name} v{p.version} "
            f"-> {p.output}"
        )
        self.next(self.score_shard, foreach="shards")

    @resources(cpu=2, memory=4096)
    @step
    @user_errors
    def score_shard(self):
        """Score one shard block by block; rejected rows go to the shard's rejects part."""
        from modelops import configure_logging
        from modelops.registry import open_registry
        from modelops.scoring import steps

        configure_logging()
        self.shard_result = steps.score_shard_step(
            registry=open_registry(),
            plan=self.plan,
            shard=self.input,
            drift_sample=self.drift_sample,
        )
        self.next(self.merge)

    @card(type="blank", id="scoring")
    @step
    @user_errors
    def merge(self, inputs):
        """Merge the parts in input order, account for every row, publish atomically."""
        import time

        from modelops.cards import scoring_components
        from modelops.scoring import steps

        self.merge_artifacts(inputs, include=["plan", "started"])
        self.scored = steps.merge_step(
            plan=self.plan,
            results=[i.shard_result for i in inputs],
            overwrite=self.overwrite,
            max_reject_rate=self.max_reject_rate,
            drift_sample=self.drift_sample,
            seconds=time.time() - self.started,
            resumed=current.origin_run_id is not None,
        )
        r = self.scored
        self.accounting = r.accounting.to_dict()
        self.model_version = r.model_version
        a = r.accounting
        print(
            f"{a.rows_read} rows read = {a.rows_scored} scored + {a.rows_rejected} rejected "
            f"({r.model_name} v{r.model_version}) -> {r.output}; rejects: {r.rejects}"
        )
        if unseen := {c: n for c, n in a.unseen_categories.items() if n}:
            print(f"unseen categories (scored as missing), rows per column: {unseen}")
        for part in scoring_components(r):
            current.card.append(part)
        self.next(self.drift)

    @card(type="blank", id="drift")
    @step
    @user_errors
    def drift(self):
        """Evidently drift against the training reference; realised metrics if labelled."""
        from modelops.cards import drift_components
        from modelops.monitoring import steps

        self.drift_result = steps.drift_step(
            result=self.scored,
            reference=self.plan.reference,
            schema=self.plan.schema,
            model_ref=self.plan.model_ref,
            drift_share=self.drift_share,
            group=current.run_id,
            importance=self.plan.model_metadata.get("importance"),
        )
        d = self.drift_result
        verdict = steps.describe_drift(d)
        print(verdict)
        print(f"Evidently report: {d.html}")
        for part in drift_components(d, verdict):
            current.card.append(part)
        self.performance = None
        if self.labels:
            self.performance = steps.performance_step(
                result=self.scored,
                labels=self.labels,
                schema=self.plan.schema,
                training=self.plan.model_metadata.get("metrics", {}).get("holdout", {}),
            )
            p = self.performance
            for metric, value in p.realised.items():
                print(
                    f"{metric}: realised {value:.4g} on {p.rows} labelled rows, "
                    f"holdout at training {p.training.get(metric, float('nan')):.4g}"
                )
            print(f"Evidently performance report: {p.html}")
        self.next(self.end)

    @step
    @user_errors
    def end(self):
        """Fail for automation when asked to and drift was found; predictions are already out."""
        from modelops.monitoring.policy import drift_gate

        drift_gate(self.drift_result, self.fail_on_drift)


if __name__ == "__main__":
    ScoreFlow()
