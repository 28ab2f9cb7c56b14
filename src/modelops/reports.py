"""A saved W&B Report that compares one TrainFlow run's candidates (issue #29).

A W&B user opens a project and wants the comparison already laid out: CV against holdout per
family, each family's trials over time, what the search tried, and what the ensemble is made
of. The report is built from W&B's own `wandb-workspaces` library over the runs TrainFlow
logs (one `search` run per family and one `train` run, all in the Metaflow run's group), so
it reads what the runs already hold; nothing is logged twice for it.

Saving needs the W&B server: `modelops wandb report RUN_ID` does it, and so does the register
step when credentials exist. Offline the card shows the same panels (its figures are the
`charts/*` images of the train run).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from modelops import tracking
from modelops.errors import ConfigError

log = logging.getLogger(__name__)


def comparison_report(
    *,
    group: str,
    metric: str,
    model_name: str,
    entity: str,
    project: str | None = None,
) -> Any:
    """The report's blocks for the runs of TrainFlow run `group` (unsaved: `save_report`)."""
    import wandb_workspaces.reports.v2 as wr

    project = project or tracking.project()

    def runs(job_type: str, name: str) -> Any:
        filters = f"Group = '{group}' and JobType = '{job_type}'"
        return wr.Runset(entity=entity, project=project, name=name, filters=filters)

    search, train = runs("search", "families (search runs)"), runs("train", "train run")
    cv, holdout = wr.SummaryMetric(f"cv/{metric}"), wr.SummaryMetric(f"holdout/{metric}")
    return wr.Report(
        entity=entity,
        project=project,
        title=f"{model_name}: TrainFlow run {group}",
        description=f"Candidates of TrainFlow/{group} compared by {metric}.",
        blocks=[
            wr.H2(f"Cross-validated against holdout {metric}, by family"),
            wr.PanelGrid(
                runsets=[search],
                panels=[
                    wr.BarPlot(title=f"{metric}: CV and holdout", metrics=[cv, holdout]),
                    wr.ScatterPlot(title=f"holdout against CV {metric}", x=cv, y=holdout),
                ],
            ),
            wr.H2("Trials over time, by family"),
            wr.PanelGrid(
                runsets=[search],
                panels=[
                    wr.LinePlot(title=f"cv {metric} per trial", x="trial", y=[f"cv/{metric}"]),
                    wr.LinePlot(title="seconds per trial", x="trial", y=["seconds"]),
                    # every trial's parameters and score, per family, to sort and filter
                    wr.WeavePanelSummaryTable(table_name="trials"),
                ],
            ),
            wr.H2("Parameters tried, and the ensemble"),
            wr.PanelGrid(
                runsets=[train],
                panels=[
                    wr.MediaBrowser(
                        title="parameters by family (parallel coordinates)",
                        media_keys=["charts/parameters"],
                    ),
                    wr.WeavePanelSummaryTable(table_name="ensemble_weights"),
                    wr.WeavePanelSummaryTable(table_name="leaderboard"),
                ],
            ),
        ],
    )


def save_report(report: Any) -> str:
    """Save `report` to the W&B server (needs credentials) and return its address."""
    report.save()
    return str(report.url)


def save_run_report(*, group: str, metric: str, model_name: str) -> str | None:
    """The register step's report: saved when W&B is online (its address), else None. A
    failure is a warning, as every W&B call in training is: the model is registered either
    way."""
    if tracking.tracking_mode() != "online":
        return None
    try:
        report = comparison_report(
            group=group, metric=metric, model_name=model_name, entity=default_entity()
        )
        url = save_report(report)
    except Exception as e:  # noqa: BLE001 - tracking never fails a registration
        log.warning("W&B report not saved (%s: %s)", type(e).__name__, e)
        return None
    log.info("W&B report: %s", url)
    return url


def require_online() -> None:
    """A clear error where a report cannot be saved: W&B offline, or no credentials."""
    mode = tracking.tracking_mode()
    if mode != "online":
        raise ConfigError(
            f"a W&B Report is saved on the W&B server, and W&B is {mode} here "
            + (
                f"(WANDB_MODE={os.environ['WANDB_MODE']})"
                if os.environ.get("WANDB_MODE")
                else "(no credentials: `wandb login` or WANDB_API_KEY)"
            )
            + "; after `wandb sync wandb/offline-run-*` run this where W&B is online"
        )


def default_entity() -> str:
    """WANDB_ENTITY, else the signed-in user's default entity (asks the server)."""
    import wandb

    return os.environ.get("WANDB_ENTITY") or wandb.Api().default_entity


def run_facts(run_id: str) -> dict[str, str]:
    """The metric and model name TrainFlow run `run_id` used, from its Metaflow artifacts."""
    from metaflow import Run, namespace
    from metaflow.exception import MetaflowNotFound

    namespace(None)
    try:
        prep = Run(f"TrainFlow/{run_id}")["start"].task["prepared"].data
    except (MetaflowNotFound, KeyError) as e:
        raise ConfigError(
            f"TrainFlow/{run_id}: no such run with a finished start step in this Metaflow "
            f"datastore ({e}); pass --metric and --model-name"
        ) from e
    return {"metric": prep.metric, "model_name": prep.model_name}
