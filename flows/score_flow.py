"""ScoreFlow: batch predictions from the promoted model.

    python flows/score_flow.py run --input new.csv                   # -> new.predictions.csv
    python flows/score_flow.py run --input new.csv --model v3        # a specific version

The model is resolved in the registry (local or W&B), its files are checked against their
SHA-256 digests, and the input is checked against the model's schema before scoring.
"""

import os

from metaflow import FlowSpec, Parameter, card, current, resources, step

HERE = os.path.dirname(os.path.abspath(__file__))


class ScoreFlow(FlowSpec):
    """Score a CSV or Parquet file with a registered model version."""

    input_path = Parameter("input", required=True, help="CSV or Parquet file of rows to score.")
    output = Parameter(
        "output",
        default="",
        help="Where to write predictions (.csv or .parquet; default: <input>.predictions.csv "
        "next to the input).",
    )
    model_name = Parameter(
        "model-name",
        default="diamonds-price",
        help="Registered model to use (default: the model the default TrainFlow registers).",
    )
    model = Parameter(
        "model", default="production", help="Alias (production, latest) or version (v3) to use."
    )

    @card(type="blank", id="scoring")
    @resources(cpu=2, memory=8000)
    @step
    def start(self):
        """Resolve and verify the model, check the input, predict, write atomically."""
        from modelops import configure_logging
        from modelops.cards import scoring_components
        from modelops.packaging import load_model
        from modelops.registry import open_registry
        from modelops.scoring import score_file

        configure_logging()
        loaded = load_model(open_registry(), self.model_name, self.model)
        self.model_version = loaded.version.version
        self.model_metadata = loaded.version.metadata
        self.result = score_file(loaded, self.input_path, self.output or None)
        r = self.result
        print(f"{r.rows} rows scored with {r.model_name} v{r.model_version} -> {r.output}")
        for part in scoring_components(r):
            current.card.append(part)
        self.next(self.end)

    @step
    def end(self):
        """Done: `result` holds the output path, row count and model version."""


if __name__ == "__main__":
    ScoreFlow()
