from __future__ import annotations

import logging
from pathlib import Path

import pytest

from modelops.errors import ConfigError
from modelops.registry import LocalRegistry, open_registry
from modelops.tracking import Tracker, tracking_mode, wandb_run


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"WANDB_MODE": "disabled"}, "disabled"),
        ({"WANDB_MODE": "offline", "WANDB_API_KEY": "x" * 40}, "offline"),
        ({"WANDB_MODE": "", "WANDB_API_KEY": "x" * 40}, "online"),
        ({"WANDB_MODE": ""}, "offline"),
    ],
)
def test_mode_follows_wandb_conventions(monkeypatch, tmp_path, env, expected):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc credentials
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert tracking_mode() == expected


def test_registry_is_local_unless_online(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert isinstance(open_registry(), LocalRegistry)
    monkeypatch.setenv("MODELOPS_REGISTRY", "nonsense")
    with pytest.raises(ConfigError, match="auto, local or wandb"):
        open_registry()


def test_tracking_failures_are_logged_not_raised(caplog):
    class Broken:
        def log(self, data):
            raise OSError("disk full")

    with caplog.at_level(logging.WARNING):
        Tracker(Broken()).log({"a": 1})
    assert "W&B log failed (OSError: disk full)" in caplog.text


def test_offline_run_is_written_for_wandb_sync(tmp_path):
    with wandb_run("test", "g", "n", {"alpha": 1}) as tracker:
        assert tracker.active
        tracker.log({"rmse": 1.0})
        tracker.log_table("board", [{"candidate": "a", "rmse": 1.0}])
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_disabled_mode_yields_inactive_tracker(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with wandb_run("test", "g", "n") as tracker:
        assert not tracker.active
        tracker.log({"rmse": 1.0})  # a no-op, not an error
    assert not (tmp_path / "wandb").exists()


def test_run_is_the_active_wandb_run_while_it_lasts():
    import wandb

    with wandb_run("test", "g", "n") as tracker:
        assert wandb.run is tracker.run
    assert wandb.run is None


def _job_type(run: Path, timeout: float = 30.0) -> str:
    """The job type in a run's record file (protobuf; the string is stored as is). wandb-core
    writes the file asynchronously: the last run's records can land just after `finish()`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        data = next(run.glob("*.wandb")).read_bytes()
        kinds = [  # length-prefixed, as protobuf stores a string field
            k
            for k in ("search", "train", "register", "trial")
            if bytes([len(k)]) + k.encode() in data
        ]
        if kinds or time.monotonic() > deadline:
            assert kinds, f"{run}: no job type in {len(data)} bytes"
            return kinds[0]
        time.sleep(0.2)


def test_training_is_one_search_run_per_family_and_one_train_run(tmp_path, monkeypatch):
    """The family task's trials go into one `search` run; the register step's one `train` run
    holds the data artifact, the leaderboard, the candidates' charts and the model."""
    from modelops.registry import LocalRegistry
    from modelops.training.steps import (
        prepare_training,
        register_step,
        search_logged,
        select,
    )
    from tests.unit.test_search import _config

    config = _config()
    prep = prepare_training(
        data="breast_cancer", target="", task="auto", candidates="linear", metric="auto",
        test_size=0.25, cv_folds=2, budget_minutes=1, seed=0, sample=200, model_name="",
        config=config,
    )  # fmt: skip
    seen = []
    logged = Tracker.log
    monkeypatch.setattr(Tracker, "log", lambda self, data: (seen.append(data), logged(self, data)))
    result = search_logged(name="linear", prep=prep, config=config, seed=0, group="g")
    monkeypatch.setattr(Tracker, "log", logged)
    assert len(result.trials) >= 2
    # each trial is logged as it ends, as its own step, in order
    assert [s["trial"] for s in seen] == [t.number for t in result.trials]
    sel = select(scores=[result.score()], load=lambda _: result, prep=prep, config=config, seed=0)
    register_step(
        registry=LocalRegistry(tmp_path / "registry"), prep=prep, sel=sel, policy="auto",
        config=config, run_pathspec="TrainFlow/1/register/2", seed=0, group="g",
        parameters={"budget_minutes": "auto", "candidates": "linear"},
    )  # fmt: skip
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    kinds = [_job_type(r) for r in runs]
    assert sorted(kinds) == ["search", "train"]  # not one run per trial, family or step
    search, train = (runs[kinds.index(k)] for k in ("search", "train"))
    assert b"cv/roc_auc" in next(search.glob("*.wandb")).read_bytes()  # the metric's own name
    record = next(train.glob("*.wandb")).read_bytes()
    for expected in (
        b"leaderboard",
        b"holdout/roc_auc",
        b"TrainFlow/1/register/2",
        b"budget_minutes",
    ):
        assert expected in record, expected
    assert list(train.rglob("*.table.json"))  # the leaderboard and the candidate's chart
    # the saved W&B Report (online only) reads these runs: every key its panels name is one
    # they logged, and its run sets are this Metaflow run's group
    from modelops.reports import comparison_report

    report = comparison_report(group="g", metric=prep.metric, model_name="m", entity="team")
    panels = {"search": set(), "train": set()}
    for block in report.blocks:
        for rs in getattr(block, "runsets", []):
            assert "Group = 'g'" in rs.filters
            panels["search" if "'search'" in rs.filters else "train"] |= set(_keys(block.panels))
    assert panels["search"] and panels["train"]
    for kind, keys in panels.items():
        run = search if kind == "search" else train
        text = b"".join(f.read_bytes() for f in run.rglob("*") if f.is_file())
        for what, key in keys:
            if key == "ensemble_weights":  # a single family has no ensemble
                continue
            if what == "table":  # a logged wandb.Table, not a summary key of that name
                assert list(run.rglob(f"media/table/{key}_*.table.json")), (kind, key)
            elif what == "media":  # the image itself
                assert list(run.rglob(f"media/images/{key}_*.png")), (kind, key)
            else:
                assert key.encode() in text, (kind, key)
    assert b"local-v0" in record  # the model's local number is an alias, not W&B's `v0`
    # the next training is gated on v0: its train run journals that it used v0 (offline)
    register_step(
        registry=LocalRegistry(tmp_path / "registry"), prep=prep, sel=sel, policy="auto",
        config=config, run_pathspec="TrainFlow/2/register/2", seed=0, group="g2",
    )  # fmt: skip
    (journal,) = (tmp_path / "wandb").glob("offline-run-*/files/modelops-lineage.jsonl")
    assert f'"ref": "{prep.model_name}:local-v0"' in journal.read_text()


def test_package_list_is_saved_by_register_runs_only(tmp_path):
    """A trial run skips W&B's requirements.txt (a second per run); the register run keeps it."""
    for job_type in ("trial", "register"):
        with wandb_run(job_type, "g", job_type):
            pass
    runs = {_job_type(r): r for r in (tmp_path / "wandb").glob("offline-run-*")}
    assert set(runs) == {"trial", "register"}
    assert not list(runs["trial"].rglob("requirements.txt"))
    assert "wandb==" in next(runs["register"].rglob("requirements.txt")).read_text()


@pytest.mark.parametrize("in_place", [True, False])
def test_a_registered_models_files_are_logged_in_place_not_copied(tmp_path, in_place):
    """A registered version's files never change, so W&B reads them where the registry keeps
    them (no staging copy of a 285 MB ensemble); other files are copied before logging."""

    class Run:
        def log_artifact(self, art, aliases):
            self.art = art

    model = tmp_path / "model.joblib"
    model.write_bytes(b"x" * 1000)
    run = Run()
    Tracker(run).log_artifact("m", "model", {"model.joblib": model}, {}, ["v0"], in_place=in_place)
    entry = run.art.manifest.entries["model.joblib"]
    assert (Path(entry.local_path) == model) is in_place


def test_lineage_refused_offline_is_journaled_in_the_run_and_replayed_once_online(
    tmp_path, monkeypatch
):
    """Offline, `use_artifact` cannot reach W&B: the run's own folder keeps it (uploaded by
    `wandb sync`); `modelops wandb replay` then resumes each synced run and records it, once."""
    import json

    from modelops.tracking import LINEAGE_JOURNAL, replay_lineage

    with wandb_run("scoring", "g", "scoring") as tracker:
        tracker.use_artifact("m:local-v3")
        run_id = tracker.run.id
    (path,) = (tmp_path / "wandb").glob(f"offline-run-*/files/{LINEAGE_JOURNAL}")
    (entry,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert entry["op"] == "use_artifact" and entry["ref"] == "m:local-v3"
    assert entry["run_id"] == run_id and entry["job_type"] == "scoring"
    with pytest.raises(ConfigError, match="needs W&B online"):
        replay_lineage(tmp_path)

    class FakeRun:
        def __init__(self, **kwargs):
            self.kwargs, self.used, self.finished = kwargs, [], False

        def use_artifact(self, ref):
            self.used.append(ref)

        def finish(self):
            self.finished = True

    class FakeWandb:
        runs: list = []
        Settings = dict

        def init(self, **kwargs):
            self.runs.append(FakeRun(**kwargs))
            return self.runs[-1]

    monkeypatch.setenv("WANDB_MODE", "online")
    fake = FakeWandb()
    lines = replay_lineage(tmp_path, fake)
    (run,) = fake.runs
    assert run.kwargs["id"] == run_id and run.kwargs["resume"] == "must"
    assert run.used == ["m:local-v3"] and run.finished
    assert lines == [f"{run_id}: use_artifact m:local-v3"]
    assert replay_lineage(tmp_path, fake)[0].endswith("already replayed") and len(fake.runs) == 1


def _keys(panels: list) -> list[tuple[str, str]]:
    """What W&B Report panels read from the runs: ("metric", key), ("table", name) or
    ("media", key)."""
    keys = []
    for p in panels:
        for name, what in (
            ("metrics", "metric"), ("x", "metric"), ("y", "metric"),
            ("media_keys", "media"), ("table_name", "table"),
        ):  # fmt: skip
            value = getattr(p, name, None) or []
            for m in value if isinstance(value, list) else [value]:
                keys.append((what, getattr(m, "name", m)))
    return keys


def test_a_failed_report_save_is_a_warning_not_a_failed_registration(monkeypatch, caplog):
    """Online, the register step saves the run's W&B Report; like every W&B call in training,
    a failure is logged and the registration stands. Offline nothing is tried."""
    from modelops import reports

    def refuse(report):
        raise ConnectionError("no route to api.wandb.ai")

    monkeypatch.setattr(reports, "save_report", refuse)
    monkeypatch.setenv("WANDB_ENTITY", "team")
    run = {"group": "g", "metric": "rmse", "model_name": "m"}
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert reports.save_run_report(**run) is None
    assert "not saved" not in caplog.text  # offline: not even tried
    monkeypatch.setenv("WANDB_MODE", "online")
    assert reports.save_run_report(**run) is None
    assert "W&B report not saved (ConnectionError: no route" in caplog.text
    monkeypatch.setattr(reports, "save_report", lambda report: f"url of {report.title}")
    assert reports.save_run_report(**run) == "url of m: TrainFlow run g"


def test_report_names_the_run_it_cannot_find(tmp_path, monkeypatch):
    from modelops.errors import ConfigError
    from modelops.reports import run_facts

    monkeypatch.setenv("METAFLOW_DATASTORE_SYSROOT_LOCAL", str(tmp_path))
    with pytest.raises(ConfigError, match="TrainFlow/404: no such run.*--metric and --model-name"):
        run_facts("404")


def test_a_report_offline_says_it_needs_the_server(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from modelops.cli import main

    monkeypatch.setenv("WANDB_MODE", "offline")
    out = CliRunner().invoke(main, ["wandb", "report", "1", "--metric", "rmse"])
    assert out.exit_code != 0
    assert "W&B is offline here (WANDB_MODE=offline)" in out.output
    assert "wandb sync" in out.output


def test_a_figure_with_nothing_to_draw_is_not_logged(tmp_path):
    """On flights every family had one trial: no parameters figure (None), and W&B was
    asked to log None as an image (a warning in the run). A None figure is skipped."""
    from types import SimpleNamespace

    import pandas as pd

    from modelops import tracking

    class Recorder:
        def __init__(self):
            self.images = []

        def log_image(self, key, figure):
            self.images.append(key)

        def __getattr__(self, name):  # every other logging call: accepted, not recorded
            return lambda *args, **kwargs: None

    board = pd.DataFrame({"candidate": ["linear"], "cv_rmse": [1.0]})
    score = SimpleNamespace(label="linear", sample=None, holdout={"rmse": 1.0}, cv={"rmse": 1.0})
    common = dict(
        source=str(tmp_path / "absent.csv"), dataset="d", data_metadata={}, board=board,
        metric="rmse", task="regression", best="linear", candidates=[score], weights={},
    )  # fmt: skip
    recorder = Recorder()
    tracking.log_training(recorder, **common, figures={"parameters": None})
    assert recorder.images == []
    tracking.log_training(recorder, **common, figures={"parameters": object()})
    assert recorder.images == ["charts/parameters"]
