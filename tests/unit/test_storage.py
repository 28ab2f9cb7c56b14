"""Local paths and s3:// URLs behave alike where ScoreFlow names and publishes files.

S3 transfers themselves are exercised end to end against moto's S3 server in
tests/integration (Metaflow reads its S3 endpoint at import, so they run in the flows).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelops import storage
from modelops.errors import DataError
from modelops.scoring.outputs import default_output, rejects_path, sibling


def test_names_beside_an_s3_output_keep_the_url_intact() -> None:
    out = default_output("s3://bucket/extracts/2026-11-22.csv")
    assert out == "s3://bucket/extracts/2026-11-22.predictions.csv"
    assert rejects_path(out) == "s3://bucket/extracts/2026-11-22.predictions.rejects.csv"
    assert sibling(out, ".drift.json") == "s3://bucket/extracts/2026-11-22.predictions.drift.json"
    assert storage.suffix("s3://b/x/part.PARQUET") == ".parquet"
    assert storage.parent("s3://b/run/parts/part-00001.csv") == "s3://b/run/parts"
    assert storage.join("s3://b/run/parts/", "part-00001.csv") == "s3://b/run/parts/part-00001.csv"


def test_local_names_are_paths(tmp_path: Path) -> None:
    out = default_output(tmp_path / "new.csv")
    assert out == tmp_path / "new.predictions.csv"
    assert storage.parent(out) == tmp_path and storage.name(out) == "new.predictions.csv"


def test_atomic_output_appears_only_when_the_block_succeeds(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "out.csv"
    with storage.atomic_output(dest) as tmp:
        assert tmp.parent == dest.parent  # same folder: the rename is atomic
        tmp.write_text("a\n1\n")
        assert not storage.exists(dest)
    assert dest.read_text() == "a\n1\n" and not tmp.exists()
    with storage.fetch(dest) as local:
        assert local == dest
    with storage.open_binary(dest) as f:
        f.seek(2)
        assert f.read() == b"1\n"


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "summary.json"
    storage.write_text(dest, "old")
    with pytest.raises(OSError), storage.atomic_output(dest) as tmp:
        tmp.write_text("half")
        raise OSError("disk full")
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_published_files_follow_the_umask_not_mkstemp(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        storage.write_text(tmp_path / "shared.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.json").stat().st_mode & 0o777 == 0o644


def test_s3_parts_need_metaflow_s3_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import metaflow.metaflow_config as config

    monkeypatch.setattr(config, "DATATOOLS_S3ROOT", None)
    with pytest.raises(DataError, match="METAFLOW_DATASTORE_SYSROOT_S3"):
        storage.run_prefix("ScoreFlow", "1", "score-parts")
    monkeypatch.setattr(config, "DATATOOLS_S3ROOT", "s3://bucket/data/")
    assert storage.run_prefix("ScoreFlow", "7", "p") == "s3://bucket/data/ScoreFlow/7/p"


def test_s3_without_credentials_fails_at_once_with_what_to_do(monkeypatch, tmp_path):
    from modelops import storage
    from modelops.errors import ConfigError

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="needs AWS credentials .*AWS_ACCESS_KEY_ID"):
        storage.exists("s3://bucket/new.csv")  # before: minutes of silent retries
