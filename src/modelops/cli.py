"""The `modelops` command: the registry and the monitoring rule, from a terminal or a workflow.

\b
    modelops registry list [MODEL] [--json]   # models, or versions of one model
    modelops registry history MODEL           # alias moves: when, who, why
    modelops leaderboard MODEL [REF]          # the candidates a version was chosen from
    modelops registry show MODEL [REF]        # metadata of one version (alias or vN)
    modelops registry promote MODEL REF       # give REF the production alias
    modelops registry rollback MODEL [--to REF]
    modelops registry push [MODEL...] [--to DIR]   # make the W&B Registry follow this one
    modelops wandb replay [--dir DIR]         # after `wandb sync`: offline runs' lineage
    modelops monitor decide --drift X.drift.json [--mode auto] [--cooldown-hours 72]
    modelops serve [--model-name NAME] [--model production] [--port 8000]

`python -m modelops.registry ...` and `python -m modelops.monitoring decide ...` are
aliases. User errors exit 1 with one line on stderr; the flows are run with `python flows/...`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from modelops.errors import ModelOpsError


class _UserErrors:
    """Turn a ModelOpsError into `error: ...` on stderr and exit status 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except ModelOpsError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(1)


class _Group(_UserErrors, click.Group):
    """A group whose subcommands report user errors as one line."""


class _Command(_UserErrors, click.Command):
    """A command that reports user errors as one line."""


@click.group(cls=_Group, help=__doc__)
def main() -> None:
    pass


@main.group(cls=_Group)
@click.option("--backend", default=None, help="auto (default: W&B when online), local or wandb.")
@click.pass_context
def registry(ctx: click.Context, backend: str | None) -> None:
    """Inspect the model registry and move `production` by hand."""
    from modelops.registry import open_registry

    ctx.obj = open_registry(backend)


def _known(reg: Any, model: str) -> list[Any]:
    """The versions of MODEL; an unknown model is an error that lists the known ones."""
    from modelops.errors import RegistryError

    versions = reg.versions(model)
    if not versions:
        raise RegistryError(
            f"no model {model!r} in the {reg.backend} registry; models: {reg.models()}"
        )
    return versions


@registry.command("list")
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.pass_obj
def list_(reg: Any, model: str | None, as_json: bool) -> None:
    """List models, or the versions of MODEL with aliases, metric and training run."""
    if not model:
        names = reg.models()
        click.echo(json.dumps(names) if as_json else "\n".join(["model", *names]))
        return
    rows = []
    for mv in _known(reg, model):
        m = mv.metadata
        metric = m.get("metric", "")
        score = m.get("metrics", {}).get("holdout", {}).get(metric)
        rows.append(
            {
                "version": f"v{mv.version}",
                "aliases": ",".join(mv.aliases),
                "candidate": m.get("candidate", ""),
                "metric": metric,
                "holdout": score if score is None else round(score, 4),
                "created_at": mv.created_at[:19],
                "run": m.get("metaflow_run", ""),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_table(rows))


def _table(rows: list[dict[str, Any]]) -> str:
    """Rows as aligned text columns under a header."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [
        ["" if r[k] is None else str(r[k]) for k in keys] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


@registry.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.pass_obj
def history(reg: Any, model: str, as_json: bool) -> None:
    """Registrations and alias moves of MODEL, oldest first: when, who, and why."""
    _known(reg, model)
    rows = [
        {
            "at": str(e.get("at", ""))[:19],
            "user": e.get("user", ""),
            "event": e.get("kind"),
            "alias": e.get("alias", ""),
            "version": "" if e.get("version") is None else f"v{e['version']}",
            "previous": "" if e.get("previous") is None else f"v{e['previous']}",
            "reason": e.get("reason") or e.get("run") or "",
        }
        for e in reg.events(model)
        if e.get("kind") in ("register", "alias")
    ]
    click.echo(json.dumps(rows, indent=2) if as_json else _table(rows))


@main.command(cls=_Command)
@click.argument("model")
@click.argument("ref", default="production")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@click.option("--backend", default=None, help="Registry: auto (default), local or wandb.")
def leaderboard(model: str, ref: str, as_json: bool, backend: str | None) -> None:
    """The candidates TrainFlow weighed for version REF of MODEL (default: production), best
    first, with their CV and holdout scores and parameters."""
    from modelops.registry import open_registry

    mv = open_registry(backend).get(model, ref)
    rows = mv.metadata.get("leaderboard")
    if rows is None:  # registered before the leaderboard was recorded: the search summary
        families = mv.metadata.get("search", {}).get("families", {})
        rows = [{"candidate": k} | v for k, v in families.items()]
    if not rows:
        raise ModelOpsError(f"{mv.ref} records no leaderboard (not registered by TrainFlow?)")
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    click.echo(f"{mv.ref} (candidate {mv.metadata.get('candidate')}):")
    click.echo(_table([{k: _cell(v) for k, v in r.items()} for r in rows]))


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict | list) else value


@registry.command()
@click.argument("model")
@click.argument("ref", default="production")
@click.pass_obj
def show(reg: Any, model: str, ref: str) -> None:
    """Metadata of one version of MODEL (REF: an alias such as production, or vN)."""
    mv = reg.get(model, ref)
    info = {"version": mv.version, "aliases": mv.aliases, "files": mv.files}
    click.echo(json.dumps(info | {"metadata": mv.metadata}, indent=2, default=str))


@registry.command()
@click.argument("model")
@click.argument("ref")
@click.pass_obj
def promote(reg: Any, model: str, ref: str) -> None:
    """Give version REF of MODEL the production alias."""
    from modelops.registry import PRODUCTION

    version = reg.get(model, ref).version
    reg.set_alias(model, PRODUCTION, version, reason="modelops registry promote")
    click.echo(f"{model}: production -> v{version}")


@registry.command()
@click.argument("model")
@click.argument("ref")
@click.pass_obj
def sign(reg: Any, model: str, ref: str) -> None:
    """Sign version REF of MODEL with MODELOPS_SIGNING_KEY (you vouch for its pickle)."""
    from modelops.registry.packaging import sign_version

    mv = sign_version(reg, model, ref)
    click.echo(f"{model}: v{mv.version} signed (key id {mv.metadata['signature']['key_id']})")


@registry.command()
@click.argument("model")
@click.option("--to", default=None, help="Version or alias to roll back to (default: previous).")
@click.pass_obj
def rollback(reg: Any, model: str, to: str | None) -> None:
    """Move MODEL's production alias back to the previous (or --to) version."""
    from modelops.registry.history import rollback as do_rollback

    old, new = do_rollback(reg, model, to)
    click.echo(f"{model}: production v{old} -> v{new}")


@registry.command()
@click.argument("models", nargs=-1)
@click.option(
    "--to",
    "to_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Push to the local registry in this folder instead of W&B (a shared disk, a test).",
)
def push(models: tuple[str, ...], to_dir: Path | None) -> None:
    """Make the W&B Registry follow the local one: register the versions it lacks, move its
    aliases (production) where they are locally. Idempotent; an alias moved by hand in W&B
    is reported, not overwritten (exit 2). MODELS: all when none is named."""
    from modelops.errors import ConfigError
    from modelops.registry import LocalRegistry
    from modelops.registry.push import push as do_push
    from modelops.tracking import project, tracking_mode

    local = LocalRegistry()
    if to_dir is not None:
        target: Any = LocalRegistry(to_dir)
    elif tracking_mode() != "online":
        raise ConfigError(
            "registry push needs W&B online: set WANDB_API_KEY (and leave WANDB_MODE unset or "
            "online), or pass --to DIR to push to another local registry"
        )
    else:
        from modelops.registry.wandb_backend import WandbRegistry

        target = WandbRegistry(project=project())
    conflicts = False
    for name in models or tuple(local.models()):
        report = do_push(local, target, name)
        for line in report.lines():
            click.echo(line)
        conflicts |= bool(report.conflicts)
    if conflicts:
        sys.exit(2)


@registry.command()
@click.option(
    "--event",
    "event_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The repository_dispatch event file ($GITHUB_EVENT_PATH) a W&B automation caused.",
)
@click.option(
    "--retrain-data",
    default="",
    help="Where the labelled rows to retrain on are ({date}, {month} filled in); a "
    "'retrain' event without it starts nothing.",
)
def event(event_path: Path, retrain_data: str) -> None:
    """Route a W&B registry event (alias added, version linked) to the workflow it starts:
    prints it as JSON; on GitHub Actions writes action, model and data to the step output."""
    import os

    from modelops.registry.events import publish, read_event, route, with_data

    found = read_event(event_path)
    decision = with_data(route(found), retrain_data, datetime.now(UTC))
    publish(decision, os.environ)
    click.echo(json.dumps({"event": found.to_dict()} | asdict(decision)))


@main.group(cls=_Group)
def wandb() -> None:
    """W&B chores that need the server."""


@wandb.command()
@click.option(
    "--dir",
    "root",
    default=None,
    type=click.Path(path_type=Path),
    help="Where the offline runs are (default: WANDB_DIR, else the current folder).",
)
def replay(root: Path | None) -> None:
    """After `wandb sync`: record the lineage offline runs journaled (which model a scoring
    run used, which champion a training was gated on), which the SDK refuses offline."""
    import os

    from modelops.tracking import replay_lineage

    where = root or Path(os.environ.get("WANDB_DIR") or ".")
    for line in replay_lineage(where) or ["no lineage journal under " + str(where)]:
        click.echo(line)


@wandb.command()
@click.argument("run_id")
@click.option("--metric", default=None, help="Metric to compare by (default: the run's own).")
@click.option("--model-name", default=None, help="Model name for the title (default: the run's).")
@click.option("--entity", default=None, help="W&B entity (default: WANDB_ENTITY, else yours).")
@click.option(
    "--project", default=None, help="W&B project (default: WANDB_PROJECT, else modelops)."
)
def report(
    run_id: str,
    metric: str | None,
    model_name: str | None,
    entity: str | None,
    project: str | None,
) -> None:
    """Save a W&B Report comparing TrainFlow run RUN_ID's candidates: CV against holdout and
    trials over time per family, the parameters tried, the ensemble weights. Needs the W&B
    server; the register step saves one itself when credentials exist."""
    from modelops.reports import (
        comparison_report,
        default_entity,
        require_online,
        run_facts,
        save_report,
    )

    require_online()
    if metric is None or model_name is None:
        facts = run_facts(run_id)
        metric, model_name = metric or facts["metric"], model_name or facts["model_name"]
    built = comparison_report(
        group=run_id,
        metric=metric,
        model_name=model_name,
        entity=entity or default_entity(),
        project=project,
    )
    click.echo(save_report(built))


@main.group(cls=_Group)
def monitor() -> None:
    """The monitoring rule: retrain or not, from ScoreFlow's drift summary."""


@monitor.command()
@click.option("--drift", required=True, type=click.Path(path_type=Path), help="<output>.drift.json")
@click.option(
    "--mode",
    default="auto",
    type=click.Choice(["auto", "report-only"]),
    help="report-only never retrains.",
)
@click.option("--cooldown-hours", default=72.0, type=float, help="Minimum hours between retrains.")
@click.option(
    "--last-retrain", default="", help="ISO time the last retrain started (empty: never)."
)
@click.option(
    "--retrain-data",
    default=None,
    help="Where the labelled rows of the window that drifted are (path or URL; {date} and "
    "{month} are filled in with today's). Given, a retrain trains on it and an empty value "
    "means no retrain; not given, the decision names no data.",
)
def decide(
    drift: Path, mode: str, cooldown_hours: float, last_retrain: str, retrain_data: str | None
) -> None:
    """Print the decision as JSON; on GitHub Actions also write retrain=true|false and data."""
    from modelops.monitoring.policy import (
        cooldown,
        load_drift,
        parse_time,
        publish,
        retrain_decision,
        with_source,
    )

    decision = retrain_decision(
        load_drift(drift), mode, parse_time(last_retrain), cooldown(cooldown_hours)
    )
    if retrain_data is not None:
        decision = with_source(decision, retrain_data)
    publish(decision)
    click.echo(json.dumps(decision.to_dict()))


@main.command(cls=_Command)
@click.option(
    "--model-name",
    default="",
    help="Registered model (default: the registry's only model, or the one registered last).",
)
@click.option(
    "--model",
    "ref",
    default="production",
    show_default=True,
    help="Alias to follow (moves are served without a restart) or a fixed version vN.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--poll-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="How often to check where the alias points (SIGHUP: check now).",
)
@click.option(
    "--log-predictions",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for append-only Parquet parts of served rows and predictions (for drift).",
)
@click.option(
    "--log-part-mb", default=8.0, show_default=True, type=float, help="Size of one log part."
)
@click.option(
    "--allowed-hosts",
    default="",
    help="Comma-separated Host header values to answer (default: the --host address, "
    "localhost and 127.0.0.1); others get 400, so a web page cannot reach the service by DNS "
    "rebinding. '*' answers any.",
)
@click.option(
    "--max-body-mb",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Largest request body accepted (413 beyond).",
)
@click.option("--backend", default=None, help="Registry: auto (default), local or wandb.")
def serve(
    model_name: str,
    ref: str,
    host: str,
    port: int,
    poll_seconds: float,
    log_predictions: Path | None,
    log_part_mb: float,
    allowed_hosts: str,
    max_body_mb: float,
    backend: str | None,
) -> None:
    """Serve predictions from MODEL-NAME at --model over HTTP (POST /predict, GET /, /docs,
    /health, /ready, /model, /metrics), following the registry."""
    from modelops.serving.server import run

    run(
        model_name=model_name,
        ref=ref,
        host=host,
        port=port,
        poll_seconds=poll_seconds,
        log_dir=log_predictions,
        log_part_bytes=int(log_part_mb * (1 << 20)),
        allowed_hosts=[h.strip() for h in allowed_hosts.split(",") if h.strip()],
        max_body_bytes=int(max_body_mb * (1 << 20)),
        backend=backend,
    )


def _run(group: click.Group, prog: str, argv: list[str] | None) -> int:
    try:
        # without standalone mode click returns ctx.exit()'s code instead of calling sys.exit
        code = group.main(args=argv, prog_name=prog, standalone_mode=False)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.exceptions.Abort:
        return 1
    return code if isinstance(code, int) else 0


def registry_main(argv: list[str] | None = None) -> int:
    """`python -m modelops.registry` (an alias of `modelops registry`)."""
    return _run(registry, "python -m modelops.registry", argv)


def monitor_main(argv: list[str] | None = None) -> int:
    """`python -m modelops.monitoring` (an alias of `modelops monitor`)."""
    return _run(monitor, "python -m modelops.monitoring", argv)


def entry() -> int:
    """The `modelops` console script."""
    return _run(main, "modelops", sys.argv[1:])
