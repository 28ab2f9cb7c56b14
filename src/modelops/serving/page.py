"""The page at `/`: a form generated from the live model's schema that calls `/predict`.

Numeric columns are number inputs with the training range as a hint, categorical columns are
selects with the training categories, date columns are text inputs; every field starts at a
typical training value (median or most frequent), so "Predict" answers at once. Everything
that comes from the model (column names, categories) is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from modelops.serving.live import Served

_SCRIPT = """
const form = document.getElementById("predict-form");
const result = document.getElementById("result");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const record = {};
  for (const field of form.querySelectorAll("[data-column]")) {
    const value = field.value.trim();
    record[field.dataset.column] = value === "" ? null
      : field.dataset.kind === "numeric" ? Number(value) : value;
  }
  result.textContent = "…";
  const response = await fetch("predict", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(record),
  });
  const body = await response.json();
  result.dataset.status = String(response.status);
  if (!response.ok) { result.textContent = "Error: " + JSON.stringify(body.detail); return; }
  if (body.rejected.length) {
    result.textContent = "Rejected: " + body.rejected[0].reason; return;
  }
  const p = body.predictions[0];
  let text = "Prediction: " + p.prediction;
  if (p.probabilities) {
    text += " (" + Object.entries(p.probabilities)
      .map(([k, v]) => k + " " + (100 * v).toFixed(1) + "%").join(", ") + ")";
  }
  result.textContent = text;
  document.getElementById("version").textContent = body.model_name + ":" + body.model_version;
});
"""

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
label { display: grid; grid-template-columns: 12rem 1fr; gap: .5rem; margin: .4rem 0; }
small { color: #666; } output { display: block; font-size: 1.3rem; margin: 1rem 0; }
"""


def _field(col: Any, served: Served, example: dict[str, Any]) -> str:
    name = escape(col.name)
    value = example.get(col.name)
    if col.kind == "categorical" and col.categories:
        options = ['<option value="">(missing)</option>'] + [
            f'<option{" selected" if c == value else ""}>{escape(str(c))}</option>'
            for c in col.categories
        ]
        control = (
            f'<select name="{name}" data-column="{name}" data-kind="categorical">'
            + "".join(options)
            + "</select>"
        )
        hint = f"{len(col.categories)} categories seen in training"
    elif col.kind == "numeric":
        low_high = served.ranges.get(col.name)
        hint = f"training range {low_high[0]:g} to {low_high[1]:g}" if low_high else "number"
        shown = "" if value is None else f"{value:g}"
        control = (
            f'<input type="number" step="any" name="{name}" data-column="{name}" '
            f'data-kind="numeric" value="{shown}" title="{escape(hint)}">'
        )
    else:
        hint = "a date, such as 2024-01-31" if col.kind == "datetime" else "text"
        shown = "" if value is None else escape(str(value))
        control = (
            f'<input type="text" name="{name}" data-column="{name}" data-kind="{col.kind}" '
            f'value="{shown}">'
        )
    return f"<label><span>{name}<br><small>{escape(hint)}</small></span>{control}</label>"


def render(served: Served) -> str:
    """The whole page for the live model."""
    schema = served.model.schema
    example = served.example
    fields = "\n".join(_field(c, served, example) for c in schema.columns)
    target = escape(schema.target)
    metric = served.model.version.metadata.get("metric", "")
    score = served.model.version.metadata.get("metrics", {}).get("holdout", {}).get(metric)
    quality = f" · holdout {escape(metric)} {score:.4g}" if isinstance(score, int | float) else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(served.name)}: predict {target}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style></head>
<body>
<h1>Predict {target}</h1>
<p>Model <code id="version">{escape(served.name)}:{served.version}</code>
({escape(schema.task)}{quality}). The same contract as batch scoring: <a href="docs">API</a>,
<a href="model">model</a>.</p>
<form id="predict-form">
{fields}
<button type="submit" id="predict">Predict</button>
</form>
<output id="result" aria-live="polite"></output>
<script>{_SCRIPT}</script>
</body></html>
"""
