"""The retrain rule the monitor workflow runs: drift, mode, cooldown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from modelops.cli import monitor_main as main
from modelops.errors import ConfigError, ModelOpsError
from modelops.monitoring.policy import (
    load_drift,
    parse_time,
    publish,
    retrain_decision,
    retrain_source,
    with_source,
)

NOW = datetime(2026, 11, 23, 6, 17, tzinfo=UTC)
DRIFT = {"drifted": True, "share": 0.4, "columns": {"carat": {"drifted": True}, "cut": {}}}
CALM = {"drifted": False, "share": 0.0, "columns": {}}


def test_drift_with_no_earlier_retrain_retrains():
    d = retrain_decision(DRIFT, "auto", None, now=NOW)
    assert d.retrain and "carat" in d.reason and "40%" in d.reason


def test_no_drift_never_retrains():
    assert not retrain_decision(CALM, "auto", None, now=NOW).retrain


def test_report_only_reports_but_does_not_retrain():
    d = retrain_decision(DRIFT, "report-only", None, now=NOW)
    assert not d.retrain and d.drifted and "report-only" in d.reason


@pytest.mark.parametrize(
    "hours_ago, retrain", [(1, False), (71.9, False), (72, True), (24 * 7, True)]
)
def test_cooldown_counts_from_the_last_retrain_started(hours_ago, retrain):
    last = NOW - timedelta(hours=hours_ago)
    d = retrain_decision(DRIFT, "auto", last, timedelta(hours=72), now=NOW)
    assert d.retrain is retrain
    if not retrain:
        assert "cooldown" in d.reason


def test_unknown_mode_is_an_error():
    with pytest.raises(ConfigError, match="always"):
        retrain_decision(DRIFT, "always")


def test_parse_time_reads_github_timestamps():
    assert parse_time("2026-11-20T06:17:00Z") == datetime(2026, 11, 20, 6, 17, tzinfo=UTC)
    assert parse_time("") is None
    with pytest.raises(ConfigError, match="ISO-8601"):
        parse_time("yesterday")


def test_load_drift_names_the_file(tmp_path):
    with pytest.raises(ModelOpsError, match="did ScoreFlow finish"):
        load_drift(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"share": 0.1}')
    with pytest.raises(ModelOpsError, match="drifted"):
        load_drift(bad)


def test_publish_writes_github_output_and_summary(tmp_path):
    out, summary = tmp_path / "out", tmp_path / "summary"
    publish(retrain_decision(DRIFT, "auto", None, now=NOW), {
        "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)
    })  # fmt: skip
    assert out.read_text() == "retrain=true\ndata=\n"
    assert "carat" in summary.read_text()


def test_a_retrain_trains_on_the_drifted_windows_data_and_says_which(tmp_path):
    """Retraining on the data the model already learned from would not learn the drift: the
    decision names this window's labelled rows (RETRAIN_DATA, {date}/{month} filled in), and
    with none configured it does not retrain and says what to set."""
    template = "s3://bucket/diamonds/{month}/labelled-{date}.csv"
    d = with_source(retrain_decision(DRIFT, "auto", None, now=NOW), template, now=NOW)
    assert d.retrain and d.data == "s3://bucket/diamonds/2026-11/labelled-2026-11-23.csv"
    assert d.reason.endswith(f"retraining on {d.data}")
    out, summary = tmp_path / "out", tmp_path / "summary"
    publish(d, {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)})
    assert out.read_text() == f"retrain=true\ndata={d.data}\n"
    assert f"Retrain data: `{d.data}`" in summary.read_text()
    none = with_source(retrain_decision(DRIFT, "auto", None, now=NOW), "  ", now=NOW)
    assert not none.retrain and none.drifted and "no RETRAIN_DATA is set" in none.reason
    # no drift: nothing to train, whatever the source
    calm = with_source(retrain_decision(CALM, "auto", None, now=NOW), template, now=NOW)
    assert not calm.retrain and calm.data == ""


@pytest.mark.parametrize("template", ["data/{week}.csv", "data/{0}.csv", "a.csv\nretrain=true"])
def test_a_retrain_source_with_unknown_fields_or_lines_is_refused(template):
    with pytest.raises(ConfigError, match="RETRAIN_DATA"):
        retrain_source(template, NOW)


def test_cli_decides_from_a_drift_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    path = tmp_path / "x.drift.json"
    path.write_text(json.dumps(DRIFT))
    recent = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    assert main(["decide", "--drift", str(path), "--last-retrain", recent]) == 0
    assert json.loads(capsys.readouterr().out)["retrain"] is False
    assert main(["decide", "--drift", str(path), "--mode", "auto"]) == 0
    assert json.loads(capsys.readouterr().out)["retrain"] is True
    assert main(["decide", "--drift", str(tmp_path / "none.json")]) == 1
    # given a source (as the workflow gives RETRAIN_DATA, empty or not), the decision uses it
    assert main(["decide", "--drift", str(path), "--retrain-data", "d/{month}.csv"]) == 0
    month = datetime.now(UTC).strftime("%Y-%m")
    assert json.loads(capsys.readouterr().out)["data"] == f"d/{month}.csv"
    assert main(["decide", "--drift", str(path), "--retrain-data", ""]) == 0
    assert json.loads(capsys.readouterr().out)["retrain"] is False


@pytest.mark.parametrize(
    "summary, message",
    [
        ({"drifted": "false", "share": 0.0}, "'drifted' is 'false'"),
        ({"drifted": False, "share": "0.5"}, "'share' is '0.5'"),
        ({"drifted": False, "share": 2}, "'share' is 2"),
        ({"drifted": False, "share": 0.0, "insufficient": "yes"}, "'insufficient' is 'yes'"),
    ],
)
def test_a_malformed_summary_is_refused_not_read_as_drift(tmp_path, summary, message):
    path = tmp_path / "x.drift.json"
    path.write_text(json.dumps(summary))
    with pytest.raises(ModelOpsError, match=message):
        load_drift(path)


def test_too_few_rows_is_no_decision_even_when_every_column_moved():
    tiny = {"drifted": False, "share": 1.0, "insufficient": True, "current_rows": 12}
    d = retrain_decision(tiny, "auto", None, now=NOW)
    assert not d.retrain and "12 scored rows are too few" in d.reason


@pytest.mark.parametrize("hours", ["nan", "inf", "-1"])
def test_cooldown_must_be_a_finite_number_of_hours(tmp_path, hours, capsys):
    path = tmp_path / "x.drift.json"
    path.write_text(json.dumps(DRIFT))
    code = main(["decide", "--drift", str(path), "--cooldown-hours", hours])
    assert code != 0 and "--cooldown-hours" in capsys.readouterr().err
