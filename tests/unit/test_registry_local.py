"""The embedded registry keeps W&B's semantics: ordered versions, unique aliases, digests."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
from pathlib import Path

import pytest

from modelops.errors import RegistryError
from modelops.registry import PRODUCTION, AliasConflict, LocalRegistry


def _files(tmp_path: Path, content: str) -> dict[str, Path]:
    p = tmp_path / f"model-{content}.bin"
    p.write_text(content)
    return {"model.joblib": p}


def test_versions_are_numbered_in_order_with_metadata(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    a = reg.register("m", _files(tmp_path, "a"), {"task": "regression"})
    b = reg.register("m", _files(tmp_path, "b"), {"task": "regression"}, aliases=("staging",))
    assert (a.version, b.version) == (0, 1)
    assert [mv.version for mv in reg.versions("m")] == [0, 1]
    assert reg.get("m", "latest").version == 1
    assert reg.get("m", "v0").metadata == {"task": "regression"}
    assert reg.get("m", "staging").version == 1
    assert len(a.files["model.joblib"]) == 64  # SHA-256 hex
    assert reg.models() == ["m"]


def test_alias_is_held_by_exactly_one_version(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    for c in "abc":
        reg.register("m", _files(tmp_path, c), {})
    reg.set_alias("m", PRODUCTION, 0)
    reg.set_alias("m", PRODUCTION, 2)
    holders = [mv.version for mv in reg.versions("m") if PRODUCTION in mv.aliases]
    assert holders == [2]
    moves = [e for e in reg.events("m") if e["kind"] == "alias"]
    assert [(e["previous"], e["version"]) for e in moves] == [(None, 0), (0, 2)]


def test_conditional_alias_move_detects_a_concurrent_change(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    for c in "ab":
        reg.register("m", _files(tmp_path, c), {})
    reg.set_alias("m", PRODUCTION, 0, expected=None)
    with pytest.raises(AliasConflict, match="held by v0, expected vNone"):
        reg.set_alias("m", PRODUCTION, 1, expected=None)
    reg.set_alias("m", PRODUCTION, 1, expected=0)
    assert reg.get("m", PRODUCTION).version == 1


def test_a_model_name_given_as_the_alias_gets_a_hint(tmp_path):
    """Seen as a new user: `score_flow.py run --model seattle-weather` took the name for an
    alias of the default model, and the error named only the default model."""
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("seattle-weather", _files(tmp_path, "a"), {}, aliases=(PRODUCTION,))
    with pytest.raises(RegistryError, match="no registered versions") as err:
        reg.get("diamonds-price", "seattle-weather")
    assert "--model-name seattle-weather" in str(err.value)
    reg.register("diamonds-price", _files(tmp_path, "b"), {})
    with pytest.raises(RegistryError, match="no alias 'seattle-weather'") as err:
        reg.get("diamonds-price", "seattle-weather")
    assert "registered model's name, not an alias" in str(err.value)
    with pytest.raises(RegistryError) as err:  # an alias that is no model's name: no hint
        reg.get("diamonds-price", "staging")
    assert "--model-name" not in str(err.value)


def test_a_model_under_another_name_or_not_promoted_is_named_in_the_error(tmp_path):
    """Seen as a new user (statsmodels' randhie, R2 0.19): TrainFlow registered `train-mdvis`
    without promoting it (below the R2 threshold); ScoreFlow's default model name found
    nothing and said "train first", then `--model-name train-mdvis` said only that there was
    no production alias."""
    reg = LocalRegistry(tmp_path / "reg")
    decision = {"promote": False, "reasons": ["holdout r2=0.1884 fails the threshold >= 0.5"]}
    reg.register("train-mdvis", _files(tmp_path, "a"), {"decision": decision})
    with pytest.raises(RegistryError, match="no registered versions") as err:
        reg.get("diamonds-price", PRODUCTION)
    assert "['train-mdvis']" in str(err.value) and "train first" not in str(err.value)
    with pytest.raises(RegistryError, match="no alias 'production'") as err:
        reg.get("train-mdvis", PRODUCTION)
    message = str(err.value)
    assert "v0, was not promoted (holdout r2=0.1884 fails" in message
    assert "--model v0" in message and "promote train-mdvis v0" in message
    reg.register("train-mdvis", _files(tmp_path, "b"), {})  # no decision recorded: no guess
    with pytest.raises(RegistryError) as err:
        reg.get("train-mdvis", PRODUCTION)
    assert "not promoted" not in str(err.value)


def test_unknown_references_and_names(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="no registered versions") as err:
        reg.get("m", PRODUCTION)
    # a fresh CI runner's empty registry says where it looked and what to do
    assert str(tmp_path / "reg") in str(err.value) and "WANDB_API_KEY" in str(err.value)
    assert reg.find("m") is None
    reg.register("m", _files(tmp_path, "a"), {})
    with pytest.raises(RegistryError, match="no alias 'production'"):
        reg.get("m", PRODUCTION)
    with pytest.raises(RegistryError, match="no version v9"):
        reg.set_alias("m", PRODUCTION, 9)
    with pytest.raises(RegistryError, match="not valid"):
        reg.register("../escape", _files(tmp_path, "a"), {})


def test_tampered_file_is_refused(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    mv = reg.register("m", _files(tmp_path, "a"), {})
    (Path(mv.location) / "model.joblib").write_text("evil")
    with pytest.raises(RegistryError, match="refusing to load"):
        reg.download(mv, tmp_path / "out")


def test_registered_files_are_immutable_copies(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    files = _files(tmp_path, "a")
    mv = reg.register("m", files, {})
    files["model.joblib"].write_text("changed after registration")
    out = reg.download(mv, tmp_path / "out")
    assert (out / "model.joblib").read_text() == "a"


def _register_and_promote(args: tuple[str, int]) -> int:
    root, i = args
    reg = LocalRegistry(root)
    src = Path(root).parent / f"src-{i}.bin"
    src.write_text(str(i))
    mv = reg.register("m", {"model.joblib": src}, {"i": i})
    champion = reg.find("m", PRODUCTION)
    with contextlib.suppress(AliasConflict):
        reg.set_alias("m", PRODUCTION, mv.version, expected=champion.version if champion else None)
    return mv.version


def test_concurrent_runs_get_distinct_versions_and_one_production(tmp_path):
    root = str(tmp_path / "reg")
    with mp.get_context("spawn").Pool(4) as pool:
        versions = pool.map(_register_and_promote, [(root, i) for i in range(8)])
    assert sorted(versions) == list(range(8))
    reg = LocalRegistry(root)
    holders = [mv.version for mv in reg.versions("m") if PRODUCTION in mv.aliases]
    assert len(holders) == 1
    aliases = json.loads((tmp_path / "reg" / "m" / "aliases.json").read_text())
    assert aliases[PRODUCTION] == holders[0]


def test_cli_rollback_returns_to_the_previous_production(tmp_path, capsys, monkeypatch):
    from modelops.cli import registry_main as main

    monkeypatch.setenv("MODELOPS_REGISTRY_DIR", str(tmp_path / "reg"))
    reg = LocalRegistry(tmp_path / "reg")
    for c in "abc":
        reg.register(
            "m", _files(tmp_path, c), {"metric": "rmse", "metrics": {"holdout": {"rmse": 1}}}
        )
    reg.set_alias("m", PRODUCTION, 0)
    assert main(["promote", "m", "v2"]) == 0
    assert main(["rollback", "m"]) == 0
    assert reg.get("m", PRODUCTION).version == 0
    assert "production v2 -> v0" in capsys.readouterr().out
    assert main(["rollback", "m", "--to", "v1"]) == 0
    assert reg.get("m", PRODUCTION).version == 1
    capsys.readouterr()
    assert main(["list", "m"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 4 and listing[0].split()[:3] == ["version", "aliases", "candidate"]
    assert "production" in listing[2]
    assert main(["list", "m", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["version"] for r in rows] == ["v0", "v1", "v2"] and rows[1]["aliases"] == PRODUCTION
    assert main(["show", "m", "v9"]) == 1
    assert "no version 9" in capsys.readouterr().err
    # an unknown model is an error naming the known ones, not an empty listing
    assert main(["list", "nope"]) == 1
    assert "no model 'nope'" in (err := capsys.readouterr().err) and "['m']" in err
    # the alias moves with time, user and reason
    assert main(["history", "m", "--json"]) == 0
    moves = [e for e in json.loads(capsys.readouterr().out) if e["event"] == "alias"]
    assert [m["version"] for m in moves] == ["v0", "v2", "v0", "v1"]
    assert moves[1]["reason"] == "modelops registry promote"
    assert moves[2]["reason"] == "rollback from v2" and moves[2]["user"]


def test_re_promoting_the_holder_is_not_a_move_and_rollback_skips_it(tmp_path, capsys, monkeypatch):
    from modelops.cli import registry_main as main

    monkeypatch.setenv("MODELOPS_REGISTRY_DIR", str(tmp_path / "reg"))
    reg = LocalRegistry(tmp_path / "reg")
    for c in "ab":
        reg.register("m", _files(tmp_path, c), {"metric": "rmse"})
    reg.set_alias("m", PRODUCTION, 0)
    reg.set_alias("m", PRODUCTION, 1)
    moves = len(reg.events("m"))
    assert main(["promote", "m", "v1"]) == 0  # already production: nothing happens
    assert len(reg.events("m")) == moves
    assert main(["rollback", "m"]) == 0
    assert reg.get("m", PRODUCTION).version == 0 and "v1 -> v0" in capsys.readouterr().out
    assert main(["rollback", "m", "--to", "v0"]) == 1  # a rollback onto itself is an error
    assert "already holds production" in capsys.readouterr().err


def test_an_old_trail_with_a_recorded_no_op_still_rolls_back_to_a_different_version(tmp_path):
    from modelops.registry.history import rollback

    reg = LocalRegistry(tmp_path / "reg")
    for c in "ab":
        reg.register("m", _files(tmp_path, c), {"metric": "rmse"})
    reg.set_alias("m", PRODUCTION, 0)
    reg.set_alias("m", PRODUCTION, 1)
    with open(tmp_path / "reg" / "m" / "events.jsonl", "a") as f:  # written by older versions
        f.write(json.dumps({"kind": "alias", "alias": PRODUCTION, "version": 1, "previous": 1}))
        f.write("\n")
    assert rollback(reg, "m") == (1, 0)


def _two_versions(tmp_path: Path) -> LocalRegistry:
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("m", _files(tmp_path, "a"), {"metric": "rmse"})
    reg.register("m", _files(tmp_path, "b"), {"metric": "rmse"}, aliases=(PRODUCTION,))
    return reg


@pytest.mark.parametrize("content", ["{not json", '["production", 1]', '{"production": "x"}'])
def test_a_damaged_aliases_file_is_named_and_an_explicit_promotion_rebuilds_it(tmp_path, content):
    reg = _two_versions(tmp_path)
    (reg.root / "m" / "aliases.json").write_text(content)
    with pytest.raises(RegistryError, match=r"aliases.json: .*(not valid JSON|not \{alias)"):
        reg.versions("m")
    with pytest.raises(RegistryError, match="aliases.json"):  # a gated move does not guess
        reg.set_alias("m", PRODUCTION, 1, expected=0)
    reg.set_alias("m", PRODUCTION, 1)  # `modelops registry promote m v1`
    assert reg.get("m", PRODUCTION).version == 1 and len(reg.versions("m")) == 2


@pytest.mark.parametrize("content", [None, "{not json", '{"files": {}}', "[1, 2]"])
def test_a_damaged_version_is_skipped_and_the_others_remain(tmp_path, content, caplog):
    reg = _two_versions(tmp_path)
    meta = reg.root / "m" / "v0000" / "metadata.json"
    meta.unlink() if content is None else meta.write_text(content)
    assert [mv.version for mv in reg.versions("m")] == [1]
    assert "m v0 skipped" in caplog.text
    assert reg.get("m", PRODUCTION).version == 1
    assert reg.register("m", _files(tmp_path, "c"), {}).version == 2  # v0's number is not reused


def test_damaged_event_lines_are_skipped_and_the_history_kept(tmp_path, caplog):
    from modelops.registry.history import rollback

    reg = _two_versions(tmp_path)
    reg.set_alias("m", PRODUCTION, 0)
    with open(reg.root / "m" / "events.jsonl", "a") as f:
        f.write('{"no_kind": 1}\n{not json\n[]\n')
    assert [e["kind"] for e in reg.events("m")][-1] == "alias"
    assert "line(s) [5, 6, 7] are not events" in caplog.text
    assert rollback(reg, "m") == (0, 1)


def test_a_symlinked_events_file_is_never_written_through(tmp_path):
    reg = _two_versions(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    events = reg.root / "m" / "events.jsonl"
    events.unlink()
    events.symlink_to(victim)
    with pytest.raises(RegistryError, match="events.jsonl is a symbolic link"):
        reg.set_alias("m", PRODUCTION, 0)
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("bad", ["../escape.txt", "/tmp/abs.txt", "sub/x", "..", ""])
def test_crafted_file_names_in_metadata_are_refused_before_anything_is_written(tmp_path, bad):
    reg = LocalRegistry(tmp_path / "reg")
    mv = reg.register("m", _files(tmp_path, "a"), {})
    record_path = Path(mv.location) / "metadata.json"
    record = json.loads(record_path.read_text())
    record["files"][bad] = record["files"]["model.joblib"]
    record_path.write_text(json.dumps(record))
    dest = tmp_path / "work" / "out"
    with pytest.raises(RegistryError, match="not a plain name"):
        reg.download(reg.get("m", "v0"), dest)
    assert not dest.exists() and not (tmp_path / "work" / "escape.txt").exists()
    with pytest.raises(RegistryError, match="not a plain name"):
        reg.register("m", {bad: tmp_path / "model-a.bin"}, {})


def test_the_default_model_is_the_only_one_or_the_one_registered_last(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="no registered models .*--model-name"):
        reg.default_model()
    reg.register("churn-y", _files(tmp_path, "a"), {})
    assert reg.default_model() == "churn-y"
    reg.register("diamonds-price", _files(tmp_path, "b"), {})
    assert reg.default_model() == "diamonds-price"
    reg.register("churn-y", _files(tmp_path, "c"), {})
    assert reg.default_model() == "churn-y"


def test_an_alias_at_a_missing_version_says_so(tmp_path):
    import shutil

    reg = _two_versions(tmp_path)
    shutil.rmtree(reg.root / "m" / "v0001")
    with pytest.raises(RegistryError, match="alias 'production' points at v1, which is missing"):
        reg.get("m", PRODUCTION)


def test_the_command_help_keeps_its_command_list_one_per_line():
    from click.testing import CliRunner

    from modelops.cli import main

    out = CliRunner().invoke(main, ["--help"]).output
    lines = [line.strip() for line in out.splitlines()]
    assert "modelops registry history MODEL           # alias moves: when, who, why" in lines
    assert any(line.startswith("modelops serve [--model-name NAME]") for line in lines)
