"""The page at `/`: a form generated from the live model's schema that calls `/predict`.

Numeric columns are number inputs with the training range as a hint, categorical columns are
selects with the training categories, date columns are text inputs; every field starts at a
typical training value (median or most frequent), so "Predict" answers at once. Everything
that comes from the model (column names, categories, metadata) goes through a Jinja template
with autoescape, so nothing from a model or the registry is pasted into markup.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

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


_PAGE = Environment(autoescape=True, undefined=StrictUndefined).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{% if reason is not none %}Not ready{% else %}{{ name }}: predict {{ target }}
{%- endif %}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{{ style }}</style></head>
<body>
{% if reason is not none %}<h1>Not ready</h1>
<p>Not ready: {{ reason }}</p>
{% else %}<h1>Predict {{ target }}</h1>
<p>Model <code id="version">{{ name }}:{{ version }}</code>
({{ task }}{% if score is not none %} · holdout {{ metric }} {{ "%.4g" | format(score) }}
{%- endif %}). The same contract as batch scoring: <a href="docs">API</a>,
<a href="model">model</a>.</p>
<form id="predict-form">
{% for f in fields %}<label><span>{{ f.name }}<br><small>{{ f.hint }}</small></span>
{%- if f.kind == "categorical" %}<select name="{{ f.name }}" data-column="{{ f.name }}"
 data-kind="categorical"><option value="">(missing)</option>
{%- for c in f.categories %}<option{% if c == f.value %} selected{% endif %}>{{ c }}</option>
{%- endfor %}</select>
{%- elif f.kind == "numeric" %}<input type="number" step="any" name="{{ f.name }}"
 data-column="{{ f.name }}" data-kind="numeric" value="{{ f.value }}" title="{{ f.hint }}">
{%- else %}<input type="text" name="{{ f.name }}" data-column="{{ f.name }}"
 data-kind="{{ f.kind }}" value="{{ f.value }}">
{%- endif %}</label>
{% endfor %}<button type="submit" id="predict">Predict</button>
</form>
<output id="result" aria-live="polite"></output>
<script>{{ script }}</script>
{% endif %}</body></html>
""")


def _field(col: Any, served: Served, example: dict[str, Any]) -> dict[str, Any]:
    value = example.get(col.name)
    if col.kind == "categorical" and col.categories:
        return {
            "name": col.name,
            "kind": "categorical",
            "categories": [str(c) for c in col.categories],
            "value": value,
            "hint": f"{len(col.categories)} categories seen in training",
        }
    if col.kind == "numeric":
        low_high = served.ranges.get(col.name)
        hint = f"training range {low_high[0]:g} to {low_high[1]:g}" if low_high else "number"
        shown = "" if value is None else f"{value:g}"
        return {"name": col.name, "kind": "numeric", "value": shown, "hint": hint}
    hint = "a date, such as 2024-01-31" if col.kind == "datetime" else "text"
    shown = "" if value is None else str(value)
    return {"name": col.name, "kind": col.kind, "value": shown, "hint": hint}


def render(served: Served) -> str:
    """The whole page for the live model."""
    schema = served.model.schema
    metric = served.model.version.metadata.get("metric", "")
    score = served.model.version.metadata.get("metrics", {}).get("holdout", {}).get(metric)
    return _PAGE.render(
        reason=None,
        name=served.name,
        version=served.version,
        target=schema.target,
        task=schema.task,
        metric=metric,
        score=score if isinstance(score, int | float) else None,
        fields=[_field(c, served, served.example) for c in schema.columns],
        style=Markup(_STYLE),  # noqa: S704 (constants of this module, not data)
        script=Markup(_SCRIPT),  # noqa: S704
    )


def not_ready(err: Exception) -> str:
    """The page while no model is loaded; the reason can hold registry text (escaped)."""
    return _PAGE.render(reason=str(err), style=Markup(_STYLE))
