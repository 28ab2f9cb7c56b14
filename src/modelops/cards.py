"""Figures and Metaflow card components: what a person would rather look at than read.

Functions build matplotlib figures (plain `Figure` objects: no pyplot state, no backend to
choose, nothing to close) from plain data and return card components; the flow
only appends them to `current.card`, so everything here is testable without a running flow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from modelops.schema import Task


def diagnostic_figure(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task, title: str = ""
) -> Figure:
    """Predicted vs actual (regression), ROC curve (binary) or confusion matrix (multiclass)."""
    fig = Figure(figsize=(5.5, 4.5), dpi=100)  # no pyplot: no backend, no global state
    ax = fig.subplots()
    if task == "regression":
        pred = pipeline.predict(X)
        ax.scatter(y, pred, s=4, alpha=0.3)
        lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=1, ls="--")
        ax.set_xlabel(f"actual {y.name}")
        ax.set_ylabel(f"predicted {y.name}")
    elif task == "binary":
        proba = pipeline.predict_proba(X)[:, 1]
        positive = pipeline.classes_[1]
        fpr, tpr, _ = skm.roc_curve(y == positive, proba)
        ax.plot(fpr, tpr, label=f"AUC {skm.auc(fpr, tpr):.3f}")
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel(f"true positive rate ({positive})")
        ax.legend(loc="lower right")
    else:
        skm.ConfusionMatrixDisplay.from_predictions(y, pipeline.predict(X), ax=ax, colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def feature_importance(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, seed: int, max_rows: int = 1000
) -> pd.Series:
    """Permutation importance on input columns: comparable across every model family.

    On at most `max_rows` rows: an ensemble predicts them 3 times per column, in the register
    step every run waits for (diamonds, 2,000 rows: 7 s).
    """
    if len(X) > max_rows:
        X = X.sample(max_rows, random_state=seed)
        y = y.loc[X.index]
    r = permutation_importance(pipeline, X, y, n_repeats=3, random_state=seed, n_jobs=1)
    return pd.Series(r.importances_mean, index=X.columns).sort_values(ascending=False)


def importance_figure(importance: pd.Series, title: str = "permutation importance") -> Figure:
    imp = importance.head(20).iloc[::-1]
    fig = Figure(
        figsize=(5.5, 0.3 * len(imp) + 1.2), dpi=100
    )  # no pyplot: no backend, no global state
    ax = fig.subplots()
    ax.barh(imp.index.astype(str), imp.values)
    ax.set_xlabel("score drop when the column is shuffled")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def leaderboard_figure(board: pd.DataFrame, metric: str) -> Figure:
    """Holdout and CV metric per candidate, best first."""
    fig = Figure(
        figsize=(6, 0.45 * len(board) + 1.2), dpi=100
    )  # no pyplot: no backend, no global state
    ax = fig.subplots()
    labels = board["candidate"].astype(str).iloc[::-1]
    y = np.arange(len(board))
    ax.barh(y + 0.2, board[f"holdout_{metric}"].iloc[::-1], height=0.4, label="holdout")
    if f"cv_{metric}" in board:
        ax.barh(y - 0.2, board[f"cv_{metric}"].iloc[::-1], height=0.4, label="cross-validated")
    ax.set_yticks(y, labels)
    ax.set_xlabel(metric)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def search_figure(trials: dict[str, list[Any]], metric: str, higher: bool) -> Figure:
    """Per family, the best CV score reached so far against search time (completed trials)."""
    fig = Figure(figsize=(6.5, 4), dpi=100)
    ax = fig.subplots()
    for family, rows in trials.items():
        done = [(t.started + t.seconds, t.value) for t in rows if t.value is not None]
        if not done:
            continue
        done.sort()
        values = np.array([v for _, v in done])
        best = np.maximum.accumulate(values) if higher else np.minimum.accumulate(values)
        ax.step([t for t, _ in done], best, where="post", label=f"{family} ({len(rows)} trials)")
    ax.set_xlabel("seconds into the search")
    ax.set_ylabel(f"best cv {metric} so far")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def parameters_figure(trials: dict[str, list[Any]], metric: str, higher: bool) -> Figure | None:
    """Per family, its completed trials as parallel coordinates: one axis per searched
    parameter (scaled to the values tried; text choices in the order first tried), one line
    per trial, coloured by its CV score, the best trial drawn thick. Where the good trials
    agree on a value the search found it; where they spread, it did not matter. None when no
    family completed two trials with a parameter."""
    panels = []
    for family, rows in trials.items():
        done = [t for t in rows if t.value is not None and t.params]
        names = [  # the parameters the search moved (not the fixed or clipped ones)
            k
            for k in dict.fromkeys(k for t in done for k in t.params)
            if len({str(t.params.get(k)) for t in done}) > 1
        ]
        if len(done) >= 2 and names:
            panels.append((family, done, names))
    if not panels:
        return None
    fig = Figure(figsize=(7, 2.6 * len(panels)), dpi=100)
    axes = np.atleast_1d(fig.subplots(len(panels), 1, squeeze=False)[:, 0])
    for ax, (family, done, names) in zip(axes, panels, strict=True):
        columns = [_axis_values([t.params.get(k) for t in done]) for k in names]
        scores = np.array([t.value for t in done], dtype=float)
        span = float(np.ptp(scores)) or 1.0
        shade = (scores - scores.min()) / span if higher else (scores.max() - scores) / span
        best = int(np.argmax(scores) if higher else np.argmin(scores))
        x = np.arange(len(names))
        for i in np.argsort(shade):  # the better trials drawn last, on top
            ys = [c[i] for c in columns]
            ax.plot(
                x,
                ys,
                color=_viridis(shade[i]),
                marker="o",
                markersize=3,
                linewidth=2.5 if i == best else 0.8,
                alpha=1.0 if i == best else 0.6,
            )
        ax.set_xticks(x, [n.replace("_", " ") for n in names], fontsize=7, rotation=15)
        ax.set_yticks([0, 1], ["lowest", "highest"], fontsize=7)
        ax.set_title(
            f"{family}: {len(done)} completed trials, the brighter the better cv {metric}",
            fontsize=9,
        )
        for xi in x:
            ax.axvline(xi, color="grey", linewidth=0.5)
    fig.tight_layout()
    return fig


def _axis_values(values: list[Any]) -> np.ndarray:
    """One parallel axis: numbers scaled to [0, 1] over the values tried (log-scaled when
    they span more than a factor of 20), other values by the order first seen; a trial
    without the parameter sits in the middle."""
    numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numeric) == len([v for v in values if v is not None]) and numeric:
        arr = np.array([np.nan if v is None else float(v) for v in values])
        if np.nanmin(arr) > 0 and np.nanmax(arr) / np.nanmin(arr) > 20:
            arr = np.log(arr)
    else:
        order = {v: i for i, v in enumerate(dict.fromkeys(str(v) for v in values if v is not None))}
        arr = np.array([np.nan if v is None else order[str(v)] for v in values], dtype=float)
    low, high = np.nanmin(arr), np.nanmax(arr)
    scaled = (arr - low) / (high - low) if high > low else np.full(len(arr), 0.5)
    return np.where(np.isnan(scaled), 0.5, scaled)


def _viridis(value: float) -> Any:
    from matplotlib import colormaps

    return colormaps["viridis"](float(value))


def weights_figure(weights: dict[str, float]) -> Figure:
    """The ensemble's members by weight: what the champion's predictions are made of."""
    fig = Figure(figsize=(6, 0.45 * len(weights) + 1.0), dpi=100)
    ax = fig.subplots()
    members = sorted(weights, key=weights.__getitem__)
    ax.barh(members, [weights[m] for m in members])
    ax.set_xlabel("weight in the ensemble")
    ax.set_xlim(0, 1)
    fig.tight_layout()
    return fig


def full_table(frame: pd.DataFrame) -> Any:
    """Every row of `frame` as a card table (`Table.from_dataframe` shows only the first 5)."""
    from metaflow.cards import Table

    rows = [["" if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    return Table(rows, headers=[str(c) for c in frame.columns])


def selection_components(
    board: pd.DataFrame,
    metric: str,
    decision: dict[str, Any],
    registered: str,
    figures: dict[str, Figure],
    *,
    notes: list[str] = (),
    ensemble: dict[str, float] | None = None,
    choice: str = "",
    warning: str | None = None,
) -> list[Any]:
    """Card components: a leak warning, then the decision (what a reader wants), then the
    leaderboard and plots."""
    from metaflow.cards import Image, Markdown, Table

    verdict = "PROMOTED to production" if decision["promote"] else "NOT promoted"
    parts: list[Any] = [Markdown(f"> **Warning: {warning}**")] if warning else []
    parts += [
        Markdown(f"# {registered}: {verdict}"),
        Markdown("\n".join(f"- {r}" for r in decision["reasons"]) or "- (no reasons recorded)"),
        Markdown("## Data\n" + "\n".join(f"- {n}" for n in notes)),
        Markdown(f"## Leaderboard (the champion, then by cross-validated `{metric}`)"),
        full_table(board.drop(columns=["params"], errors="ignore").round(4)),
    ]
    if choice:
        parts.append(Markdown(choice))
    if ensemble:
        parts += [
            Markdown(
                "## Ensemble members and weights (bagged greedy selection on OOF predictions)"
            ),
            Table([[m, round(w, 4)] for m, w in ensemble.items()], headers=["member", "weight"]),
        ]
    for title, fig in figures.items():
        parts += [Markdown(f"## {title}"), Image.from_matplotlib(fig)]
    return parts


def scoring_components(result: Any) -> list[Any]:
    """Card for a scoring run: which model, where every row went, what was predicted."""
    from metaflow.cards import Markdown, Table

    a = result.accounting
    stats = [[k, round(v, 4)] for k, v in result.prediction_summary.items()]
    counts = [
        [c, a.missing_values.get(c, 0), a.unseen_categories.get(c, "")] for c in a.missing_values
    ]
    return [
        Markdown(f"# {a.rows_scored} rows scored with {result.model_name} v{result.model_version}"),
        Markdown(
            f"- rows read **{a.rows_read}** = scored **{a.rows_scored}** + rejected "
            f"**{a.rows_rejected}** ({a.reject_rate:.2%})\n- input: `{result.input}`\n"
            f"- output: `{result.output}`\n- rejects: `{result.rejects}`\n"
            f"- {result.seconds:.1f} s, {a.rows_read / max(result.seconds, 1e-9):,.0f} rows/s"
        ),
        Markdown("## Predictions"),
        Table(stats, headers=["statistic" if result.task == "regression" else "class", "value"]),
        Markdown("## Missing values and unseen categories (scored, handled by the pipeline)"),
        Table(counts, headers=["column", "missing", "unseen categories"]),
    ]


def drift_figure(drift: Any) -> Figure:
    """Each column's distance against its threshold, drifted columns in red."""
    cols = list(drift.columns)[:30]
    fig = Figure(figsize=(6, 0.28 * len(cols) + 1.4), dpi=100)
    ax = fig.subplots()
    scores = [drift.columns[c]["score"] for c in cols]
    colours = ["#c0392b" if drift.columns[c]["drifted"] else "#7f8c8d" for c in cols]
    ax.barh(cols[::-1], scores[::-1], color=colours[::-1])
    for i, c in enumerate(cols[::-1]):
        ax.plot([drift.columns[c]["threshold"]] * 2, [i - 0.4, i + 0.4], color="black", lw=1)
    ax.set_xlabel("drift distance (bar) and its threshold (line); red: drifted")
    fig.tight_layout()
    return fig


def drift_components(drift: Any, verdict: str) -> list[Any]:
    """Card for the drift check with built-in components (no card extension needed): the
    verdict, each column's distance, threshold, q-value and weight, and the plot; the full
    Evidently report is the HTML file beside the predictions."""
    from metaflow.cards import Image, Markdown

    rows = pd.DataFrame(
        [
            {
                "column": c,
                "distance": round(v["score"], 4),
                "threshold": v["threshold"],
                "q_value": round(v.get("q_value", float("nan")), 4),
                "model weight": round(drift.weights.get(c, float("nan")), 4),
                "drifted": "yes" if v["drifted"] else "",
            }
            for c, v in drift.columns.items()
        ]
    )
    return [
        Markdown(f"# {verdict}"),
        Markdown(
            f"- {drift.current_rows} scored rows sampled against {drift.reference_rows} "
            "training rows stored with the model\n- a column drifts when its distance passes "
            "its threshold and a two-sample test (Benjamini-Hochberg across columns, q <= "
            "0.01) says it is more than sampling noise\n- the full Evidently report: "
            f"`{drift.html}`"
        ),
        full_table(rows) if len(rows) else Markdown("(no columns tested)"),
        Image.from_matplotlib(drift_figure(drift)) if len(rows) else Markdown(""),
    ]
