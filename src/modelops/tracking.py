"""W&B tracking that works with or without an account, and never fails the Metaflow run.

Mode follows W&B's own conventions: `WANDB_MODE` wins when set; otherwise runs are online when
credentials exist (`WANDB_API_KEY` or a `wandb login` entry in ~/.netrc) and offline when they
do not, so `wandb sync` can upload them later. `WANDB_MODE=disabled` turns tracking off.
"""

from __future__ import annotations

import json
import logging
import netrc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "modelops"
# W&B's model registry collections live in this project namespace
REGISTRY_PREFIX = "wandb-registry-model/"


def registry_ref(name: str, version: int) -> str:
    """The W&B reference of a registered model version: `wandb-registry-model/<name>:v<n>`."""
    return f"{REGISTRY_PREFIX}{name}:v{version}"


def has_credentials() -> bool:
    """True when W&B could authenticate without asking: an API key or a netrc entry."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].split("/")[0]
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def tracking_mode() -> str:
    """'online', 'offline' or 'disabled', from WANDB_MODE or the presence of credentials."""
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode in ("disabled", "offline", "online"):
        return mode
    if mode == "dryrun":
        return "offline"
    return "online" if has_credentials() else "offline"


def project() -> str:
    return os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT)


class Tracker:
    """A W&B run (or nothing, when disabled) whose logging errors are reported, not raised.

    Tracking is an observer of training: a W&B outage or a full disk must not lose a
    Metaflow run that fitted models for an hour, so failures are logged as warnings.
    """

    def __init__(self, run: Any = None):
        self.run = run

    @property
    def active(self) -> bool:
        return self.run is not None

    def _safe(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.run is None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # tracking must never fail the run; see class docstring
            log.warning("W&B %s failed (%s: %s); the run continues", what, type(err).__name__, err)
            return None

    def log(self, data: dict[str, Any]) -> None:
        self._safe("log", lambda: self.run.log(data))

    def summary(self, data: dict[str, Any]) -> None:
        self._safe("summary", lambda: self.run.summary.update(data))

    def log_table(self, key: str, rows: list[dict[str, Any]]) -> None:
        def _do() -> None:
            import wandb

            columns = list(rows[0]) if rows else []
            table = wandb.Table(columns=columns, data=[[r.get(c) for c in columns] for r in rows])
            self.run.log({key: table})

        self._safe("table", _do)

    def log_bar(self, key: str, rows: list[dict[str, Any]], x: str, y: str, title: str) -> None:
        def _do() -> None:
            import wandb

            table = wandb.Table(columns=[x, y], data=[[r[x], r[y]] for r in rows])
            self.run.log({key: wandb.plot.bar(table, x, y, title=title)})

        self._safe(f"bar {key}", _do)

    def log_image(self, key: str, figure: Any) -> None:
        """A matplotlib figure as a W&B image (what the card shows, in the run too)."""

        def _do() -> None:
            import io

            import wandb
            from PIL import Image

            # rendered here: wandb.Image(figure) goes through pyplot, which cards never import
            png = io.BytesIO()
            figure.savefig(png, format="png")
            png.seek(0)
            self.run.log({key: wandb.Image(Image.open(png))})

        self._safe(f"image {key}", _do)

    def log_predictions(self, key: str, sample: Any, task: str, title: str) -> None:
        """Interactive W&B chart from a holdout sample: predicted vs actual, ROC or confusion."""

        def _do() -> None:
            import numpy as np
            import wandb

            if task == "regression":
                table = wandb.Table(dataframe=sample[["actual", "predicted"]])
                plot = wandb.plot.scatter(table, "actual", "predicted", title=title)
            else:
                classes = [c.removeprefix("proba_") for c in sample.columns if c != "actual"]
                proba = sample[[f"proba_{c}" for c in classes]].to_numpy()
                y = sample["actual"].astype(str).map({c: i for i, c in enumerate(classes)})
                if task == "binary":
                    plot = wandb.plot.roc_curve(y.to_numpy(), proba, labels=classes, title=title)
                else:
                    preds = np.argmax(proba, axis=1).tolist()
                    plot = wandb.plot.confusion_matrix(
                        y_true=y.tolist(), preds=preds, class_names=classes, title=title
                    )
            self.run.log({key: plot})

        self._safe(f"plot {key}", _do)

    def log_artifact(
        self,
        name: str,
        type_: str,
        files: dict[str, Path],
        metadata: dict[str, Any] | None = None,
        aliases: list[str] | None = None,
        *,
        in_place: bool = False,
    ) -> None:
        """`in_place`: the files are never rewritten (a registered version's), so W&B reads
        them where they are at upload (or `wandb sync`) instead of copying them first."""

        def _do() -> None:
            import wandb

            art = wandb.Artifact(name, type=type_, metadata=metadata or {})
            for fname, path in files.items():
                art.add_file(str(path), name=fname, policy="immutable" if in_place else "mutable")
            self.run.log_artifact(art, aliases=aliases or [])

        self._safe(f"artifact {name}", _do)

    def use_artifact(self, ref: str) -> None:
        """Record that this run used `ref` (lineage). Online W&B records it at once; offline
        the SDK refuses (`use_artifact` needs the server), so it is journaled in the run's
        own folder (`files/modelops-lineage.jsonl`, uploaded by `wandb sync` with the run)
        and `modelops wandb replay` records it once the run is synced."""
        if tracking_mode() == "online":
            self._safe(f"use_artifact {ref}", lambda: self.run.use_artifact(ref))
        else:
            self._safe(
                f"journal use_artifact {ref}", lambda: journal(self.run, "use_artifact", ref)
            )


LINEAGE_JOURNAL = "modelops-lineage.jsonl"


def journal(run: Any, op: str, ref: str) -> Path:
    """Append what an offline run could not tell W&B (`op` on artifact `ref`) to the journal
    in its folder, with what identifies the run once synced (entity, project, id)."""
    path = Path(run.dir) / LINEAGE_JOURNAL
    entry = {
        "op": op,
        "ref": ref,
        "run_id": run.id,
        "project": run.project,
        "entity": os.environ.get("WANDB_ENTITY") or None,
        "job_type": run.job_type,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with open(path, "a", encoding="utf-8") as f:  # one short line: one append
        f.write(json.dumps(entry) + "\n")
    return path


def replay_lineage(root: Path, wandb_module: Any = None) -> list[str]:
    """Record, now that W&B is online, what offline runs under `root` journaled (`journal`):
    each synced run is resumed by its id and told what it used. Journals already replayed
    (a `.replayed` marker beside them) are skipped, so running it again changes nothing.
    Returns one line per journal entry, for the terminal."""
    from modelops.errors import ConfigError

    if tracking_mode() != "online":
        raise ConfigError(
            "wandb replay needs W&B online: set WANDB_API_KEY, then `wandb sync` the offline "
            "runs and run it again"
        )
    if wandb_module is None:
        import wandb as wandb_module
    lines = []
    for path in sorted(root.glob(f"**/offline-run-*/files/{LINEAGE_JOURNAL}")):
        done = path.with_suffix(".replayed")
        if done.exists():
            lines.append(f"{path.parent.parent.name}: already replayed")
            continue
        entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for run_id in dict.fromkeys(e["run_id"] for e in entries):
            mine = [e for e in entries if e["run_id"] == run_id]
            run = wandb_module.init(
                id=run_id,
                project=mine[0]["project"],
                entity=mine[0]["entity"] or os.environ.get("WANDB_ENTITY") or None,
                resume="must",  # the run must be synced first: no empty run is made
                settings=wandb_module.Settings(**_settings(mine[0].get("job_type") or "")),
            )
            try:
                for e in mine:
                    getattr(run, e["op"])(e["ref"])
                    lines.append(f"{run_id}: {e['op']} {e['ref']}")
            finally:
                run.finish()
        done.write_text(f"{len(entries)} entries replayed {datetime.now(UTC).isoformat()}\n")
    return lines


def registry_backend(choice: str | None = None) -> str:
    """The registry backend to use: `choice`, else `MODELOPS_REGISTRY`; `auto` is W&B when
    tracking is online, else local. `open_registry` opens it."""
    choice = (choice or os.environ.get("MODELOPS_REGISTRY", "auto")).lower()
    if choice == "auto":
        return "wandb" if tracking_mode() == "online" else "local"
    return choice


def artifact_ref(name: str, version: int, backend: str) -> str:
    """How W&B knows a registered version: in the W&B Registry when that is the registry,
    else the `model` artifact the training run logged, by its `local-v<n>` alias."""
    return registry_ref(name, version) if backend == "wandb" else f"{name}:local-v{version}"


# Runs that record the installed packages (requirements.txt): the one that registers a model
# and the one that scores with it. Reading every package's metadata takes about a second per
# run here, and a training run starts dozens (one per trial) in the same environment.
_WITH_REQUIREMENTS = {"train", "register", "scoring"}


def _settings(job_type: str = "") -> dict[str, Any]:
    """Quiet runs; system-metric sampling off unless asked for (WANDB_X_DISABLE_STATS=false);
    the package list only where a model is registered or used (WANDB_X_SAVE_REQUIREMENTS
    overrides).

    Every Metaflow task is a short process of its own, and a sampler per task competes with
    the training it would measure.
    """
    settings: dict[str, Any] = {"silent": True, "console": "off"}
    if "WANDB_X_DISABLE_STATS" not in os.environ:
        settings["x_disable_stats"] = True
    if "WANDB_X_SAVE_REQUIREMENTS" not in os.environ and job_type not in _WITH_REQUIREMENTS:
        settings["x_save_requirements"] = False
    return settings


@contextmanager
def wandb_run(
    job_type: str,
    group: str,
    name: str,
    config: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> Iterator[Tracker]:
    """Start a W&B run in the right mode; yield a Tracker; always finish the run.

    The run becomes `wandb.run` while it lasts, so the W&B registry backend registers the
    model from this same run (lineage: run -> model).
    """
    mode = tracking_mode()
    if mode == "disabled":
        yield Tracker(None)
        return
    run = None
    try:
        import wandb

        run = wandb.init(
            project=project(),
            entity=os.environ.get("WANDB_ENTITY") or None,
            job_type=job_type,
            group=group,
            name=name,
            config=config or {},
            tags=[t[:64] for t in tags or []],
            mode=mode,
            dir=os.environ.get("WANDB_DIR") or None,  # read per run: wandb caches it per process
            settings=wandb.Settings(**_settings(job_type)),
        )
    except Exception as err:  # tracking must never fail the run
        log.warning(
            "W&B init failed (%s: %s); continuing without tracking", type(err).__name__, err
        )
    tracker = Tracker(run)
    try:
        yield tracker
    finally:
        if run is not None:
            tracker._safe("finish", run.finish)


def log_training(
    tracker: Tracker,
    *,
    source: str,
    dataset: str,
    data_metadata: dict[str, Any],
    board: Any,
    metric: str,
    task: str,
    best: str,
    candidates: list[Any],
    weights: dict[str, float],
    comparison: dict[str, Any] | None = None,
    figures: dict[str, Any] | None = None,
) -> None:
    """Into the training run: the data as a `dataset` artifact, the leaderboard table, each
    candidate's holdout chart, the ensemble's weights (table and bar chart), the card's
    `figures` as images under `charts/<key>` (None: skipped), the champion's holdout metrics under
    `holdout/<metric>` and what decided between ensemble and family."""
    if Path(source).is_file():
        tracker.log_artifact(dataset, "dataset", {Path(source).name: Path(source)}, data_metadata)
    tracker.log_table("leaderboard", board.to_dict("records"))
    for score in candidates:
        if score.sample is not None:
            tracker.log_predictions(f"holdout/{score.label}", score.sample, task, score.label)
    if weights:
        rows = [{"member": m, "weight": w} for m, w in weights.items()]
        tracker.log_table("ensemble_weights", rows)
        tracker.log_bar("ensemble_weights_chart", rows, "member", "weight", "ensemble weights")
    for key, figure in (figures or {}).items():
        if figure is not None:  # None: nothing to draw (no family with two trials)
            tracker.log_image(f"charts/{key}", figure)
    champion = next(s for s in candidates if s.label == best)
    tracker.summary(
        {"best_candidate": best}
        | {f"holdout/{k}": v for k, v in champion.holdout.items()}
        | {f"cv/{k}": v for k, v in champion.cv.items()}
        | {f"choice/{k}": v for k, v in (comparison or {}).items()}
    )


def log_scoring(
    result: Any, drift: Any, *, model_ref: str, group: str, backend: str | None = None
) -> None:
    """One `scoring` run per ScoreFlow run: accounting and drift, linked to the model used
    (`backend`: the registry it came from, which decides how W&B names it; default: this
    environment's)."""
    backend = backend or registry_backend()
    config = {"model": model_ref, "input": result.input, "output": result.output}
    with wandb_run("scoring", group, "scoring", config) as tracker:
        tracker.use_artifact(artifact_ref(result.model_name, result.model_version, backend))
        tracker.summary(
            {
                f"accounting/{k}": v
                for k, v in result.accounting.to_dict().items()
                if not isinstance(v, dict)
            }
            | {"drift/drifted": drift.drifted, "drift/share": drift.share}
            | {f"drift/{c}": v["score"] for c, v in drift.columns.items()}
        )


def trial_step(trial: Any, metric: str) -> dict[str, Any]:
    """A trial as one W&B step: its row without empty values or the error text."""
    (row,) = trial_rows([trial], metric)
    return {k: v for k, v in row.items() if v is not None and k != "error"}


def trial_rows(trials: list[Any], metric: str) -> list[dict[str, Any]]:
    """One row per trial: number, state, CV metric under its own name, time, parameters."""
    rows = []
    for t in trials:
        row: dict[str, Any] = {
            "trial": t.number,
            "state": t.state,
            f"cv/{metric}": t.value,
            "seconds": round(t.seconds, 3),
            "pruned": t.state == "pruned",
        }
        row |= {
            f"params/{k}": v for k, v in t.params.items() if isinstance(v, int | float | str | bool)
        }
        rows.append(row | ({"error": t.error} if t.error else {}))
    return rows
