"""Production files: every malformed row is rejected with its line and reason, every row is
accounted for, output is atomic, deterministic and never silently overwritten."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from modelops.errors import DataError, SchemaError
from modelops.registry import PRODUCTION
from modelops.registry.packaging import load_model
from modelops.scoring.batch import score_file
from modelops.scoring.outputs import rejects_path
from modelops.scoring.reader import iter_chunks
from tests.conftest import register_linear

HEADER = b"id,num_a,num_b,colour\n"


@pytest.fixture
def model(tmp_path, frame):
    reg, _, _ = register_linear(tmp_path, frame())
    return load_model(reg, "m", PRODUCTION)


def _rejects(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(int(r["line"]), r["reason"], r["raw"]) for r in csv.DictReader(f)]


MALFORMED = [
    (b"1,0.5,2,red,extra\n", "too many fields: 5, expected 4"),
    (b"1,0.5,2\n", "too few fields: 3, expected 4"),
    (b"1,abc,2,red\n", "column 'num_a': 'abc' is not a number"),
    (b"1,0.5,2,r\xffd\n", "column 'colour': bytes are not valid UTF-8"),
    (b"\n", "blank line"),
]


@pytest.mark.parametrize("bad, reason", MALFORMED, ids=["many", "few", "number", "utf8", "blank"])
def test_malformed_row_is_rejected_with_line_and_reason(tmp_path, model, bad, reason):
    good = [b"%d,0.%d,%d,red\n" % (i, i, i) for i in range(1, 7)]
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"".join(good[:3]) + bad + b"".join(good[3:]))
    bad_line = 5  # header is line 1, three good rows, then the bad one
    res = score_file(model, src, tmp_path / "out.csv", max_reject_rate=0.5)
    [(line, why, raw)] = _rejects(res.rejects)
    assert (line, why) == (bad_line, reason)
    assert raw == bad.rstrip(b"\n").decode("utf-8", errors="backslashreplace")
    a = res.accounting
    assert (a.rows_read, a.rows_scored, a.rows_rejected) == (7, 6, 1) and a.balanced
    assert len(pd.read_csv(res.output)) == 6


def test_line_numbers_hold_across_blocks(tmp_path, model):
    rows = [b"%d,0.5,1,red\n" % i for i in range(500)]
    bad = {37, 211, 499}
    for i in bad:
        rows[i] = b"%d,oops,1,red\n" % i
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"".join(rows))
    res = score_file(model, src, tmp_path / "out.csv", block_bytes=256)
    assert [r[0] for r in _rejects(res.rejects)] == sorted(i + 2 for i in bad)
    out = pd.read_csv(res.output)
    assert list(out["id"]) == [i for i in range(500) if i not in bad]  # input order kept


def test_missing_values_and_unseen_categories_are_scored_and_counted(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"1,,2,red\n2,0.1,3,purple\n3,0.2,,\n")
    res = score_file(model, src, tmp_path / "out.csv")
    a = res.accounting
    assert a.rows_scored == 3 and a.rows_rejected == 0
    assert a.missing_values == {"num_a": 1, "num_b": 1, "colour": 1}
    assert a.unseen_categories == {"colour": 1}
    assert pd.read_csv(res.output)["prediction"].notna().all()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty"),
        (HEADER, "header only"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not UTF-8 text"),
        (b"id,num_a\n1,2\n", "missing required column(s) ['num_b', 'colour']"),
    ],
    ids=["empty", "header-only", "binary", "missing-column"],
)
def test_file_level_problems_stop_before_scoring(tmp_path, model, content, message):
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    with pytest.raises(
        (DataError, SchemaError),
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ) as err:
        score_file(model, src, tmp_path / "out.csv")
    assert str(src) in str(err.value)
    assert not (tmp_path / "out.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp files left


def test_too_many_rejects_fail_after_writing_rejects_without_publishing(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"1,0.5,1,red\n2,x,1,red\n3,y,1,red\n")
    with pytest.raises(DataError, match=r"2 of 3 rows rejected \(66.7% > --max-reject-rate 5.0%\)"):
        score_file(model, src, tmp_path / "out.csv", max_reject_rate=0.05)
    assert not (tmp_path / "out.csv").exists()
    assert [r[0] for r in _rejects(rejects_path(tmp_path / "out.csv"))] == [3, 4]


def test_existing_output_is_kept_unless_overwrite(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"1,0.5,1,red\n")
    dest = tmp_path / "out.csv"
    dest.write_text("precious")
    with pytest.raises(DataError, match="output exists; pass --overwrite"):
        score_file(model, src, dest)
    assert dest.read_text() == "precious"
    score_file(model, src, dest, overwrite=True)
    assert "prediction" in dest.read_text()


def test_scoring_twice_gives_identical_output(tmp_path, model, frame):
    src = tmp_path / "in.csv"
    frame(n=300).drop(columns="y").to_csv(src, index=False)
    a = score_file(model, src, tmp_path / "a.csv", block_bytes=1024)
    b = score_file(model, src, tmp_path / "b.csv", block_bytes=1024)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    pd.testing.assert_frame_equal(a.sample, b.sample)
    assert len(a.sample) == 300 and list(a.sample.columns) == ["num_a", "num_b", "colour"]


def test_parquet_in_and_out(tmp_path, model, frame):
    df = frame(n=50).drop(columns="y")
    df.insert(0, "id", range(50))
    src = tmp_path / "in.parquet"
    df.to_parquet(src)
    res = score_file(model, src, tmp_path / "out.parquet")
    out = pd.read_parquet(res.output)
    assert list(out["id"]) == list(range(50)) and res.accounting.balanced
    np.testing.assert_allclose(out["prediction"], model.pipeline.predict(df))


def test_chunks_cover_every_line(tmp_path, model):
    src = tmp_path / "in.csv"
    lines = [b"%d,0.5,1,red\n" % i if i % 7 else b"%d,0.5\n" % i for i in range(100)]
    src.write_bytes(HEADER + b"".join(lines))
    seen = []
    for chunk in iter_chunks(src, model.schema, block_bytes=128):
        seen += list(chunk.lines) + [r.line for r in chunk.rejects]
    assert sorted(seen) == list(range(2, 102))


def _mixed_input(frame, n: int = 120, newline: bytes = b"\n") -> bytes:
    """Good rows with a malformed one every 9th line, so both outputs have content."""
    df = frame(n=n).drop(columns="y")
    cells = zip(df["num_a"], df["num_b"], df["colour"], strict=True)
    rows = [f"{i},{a!r},{b!r},{c}".encode() for i, (a, b, c) in enumerate(cells)]
    rows = [r if i % 9 else b"%d,abc,1,red" % i for i, r in enumerate(rows)]
    return newline.join([HEADER.rstrip(b"\n"), *rows]) + newline


def _score_rows(model, src, dest, shard_bytes):
    res = score_file(model, src, dest, shard_bytes=shard_bytes, overwrite=True, max_reject_rate=0.5)
    with open(dest, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows, rejects_path(dest).read_bytes(), res.accounting


def _same_rows(many, one):
    """Byte-equal cells, except the prediction: BLAS may sum a 1-row batch in another order
    than a 100-row one (a last-bit difference, not a scoring difference)."""
    p = one[0].index("prediction")
    assert many[0] == one[0] and len(many) == len(one)
    for a, b in zip(many[1:], one[1:], strict=True):
        assert a[:p] + a[p + 1 :] == b[:p] + b[p + 1 :]
        assert float(a[p]) == pytest.approx(float(b[p]), rel=1e-12)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_any_number_of_shards_gives_the_output_of_one(tmp_path, model, frame, newline):
    """The flow's foreach over shards must not change the output: every row once, in input
    order, the same cells, rejects with their global line numbers, whatever the cut."""
    src = tmp_path / "in.csv"
    src.write_bytes(_mixed_input(frame, newline=newline))
    one, one_rejects, acct = _score_rows(model, src, tmp_path / "one.csv", 1 << 62)
    assert acct.rows_read == 120 and acct.rows_rejected == 14 and acct.balanced
    line_len = len(src.read_bytes().split(newline)[1]) + len(newline)
    # 1 byte: a shard per line; line_len: cuts land exactly on line ends
    for shard_bytes in (1, line_len, 3 * line_len, 500, 4096):
        many, many_rejects, _ = _score_rows(model, src, tmp_path / "many.csv", shard_bytes)
        assert many_rejects == one_rejects, shard_bytes
        _same_rows(many, one)
    lines = [line for line, _, _ in _rejects(rejects_path(tmp_path / "one.csv"))]
    assert lines == [i + 2 for i in range(0, 120, 9)]


def test_formula_cells_are_neutralised_in_csv_unless_asked_not_to(tmp_path, model):
    """A carried-through cell such as `=HYPERLINK(...)` must not run when a person opens the
    predictions (or rejects) in a spreadsheet; predictions are made on the cells as read."""
    src = tmp_path / "in.csv"
    src.write_bytes(
        HEADER + b'=HYPERLINK("http://x"),0.5,2,red\n+1,0.5,2,red\n-2,0.5,2,red\n'
        b"@SUM(A1),0.5,2,red\nplain,0.5,2,red\n=1+1,abc,2,red\n"
    )
    safe = score_file(model, src, tmp_path / "safe.csv", max_reject_rate=1.0)
    raw = score_file(
        model, src, tmp_path / "raw.csv", max_reject_rate=1.0, neutralise_formulas=False
    )
    ids = pd.read_csv(safe.output, dtype=str)["id"].tolist()
    assert ids == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "plain"]
    assert pd.read_csv(raw.output, dtype=str)["id"].tolist()[:3] == [
        '=HYPERLINK("http://x")',
        "+1",
        "-2",
    ]
    pd.testing.assert_series_equal(
        pd.read_csv(safe.output)["prediction"], pd.read_csv(raw.output)["prediction"]
    )
    assert _rejects(rejects_path(tmp_path / "safe.csv"))[0][2] == "'=1+1,abc,2,red"
    assert _rejects(rejects_path(tmp_path / "raw.csv"))[0][2] == "=1+1,abc,2,red"
    parquet = score_file(model, src, tmp_path / "out.parquet", max_reject_rate=1.0)
    assert pd.read_parquet(parquet.output)["id"].iloc[0] == '=HYPERLINK("http://x")'


def test_non_finite_numbers_are_rejected_rows_not_a_crash(tmp_path, model, frame):
    """inf/-inf/Infinity used to be scored and then crash the drift step after publishing."""
    src = tmp_path / "in.csv"
    src.write_bytes(
        HEADER + b"1,0.5,2,red\n2,inf,2,red\n3,0.5,-inf,blue\n4,Infinity,2,red\n5,0.1,3,blue\n"
    )
    res = score_file(model, src, tmp_path / "out.csv", max_reject_rate=1.0)
    assert pd.read_csv(res.output)["id"].tolist() == [1, 5]
    rejects = _rejects(rejects_path(tmp_path / "out.csv"))
    assert [(line, raw) for line, _, raw in rejects] == [
        (3, "2,inf,2,red"),
        (4, "3,0.5,-inf,blue"),
        (5, "4,Infinity,2,red"),
    ]
    assert rejects[1][1] == "column 'num_b': -inf is not a finite number"
    df = frame(n=5).drop(columns="y")
    df.loc[2, "num_a"] = np.inf
    df.to_parquet(tmp_path / "in.parquet")
    res = score_file(model, tmp_path / "in.parquet", tmp_path / "p.parquet", max_reject_rate=1.0)
    assert res.accounting.rows_scored == 4 and res.accounting.rows_rejected == 1


def test_stray_spaces_do_not_make_a_known_category_unseen(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"1,0.5,2,red\n2,0.5,2, red \n3,0.5,2,  \n4,0.5,2,purple\n")
    res = score_file(model, src, tmp_path / "out.csv")
    out = pd.read_csv(res.output)
    assert out["prediction"][0] == out["prediction"][1] and out["colour"][1] == "red"
    assert res.accounting.unseen_categories["colour"] == 1  # purple only
    assert res.accounting.missing_values["colour"] == 1  # the blank cell


def test_training_categories_are_trimmed_like_scoring_ones(frame):
    from modelops.schema import infer_schema
    from modelops.training.candidates import make_pipeline

    df = frame(n=120)
    df["colour"] = df["colour"].map({"red": " red", "green": "green ", "blue": "blue"})
    schema = infer_schema(df, "y", "regression")
    colour = next(c for c in schema.columns if c.name == "colour")
    assert colour.categories == ("blue", "green", "red")
    pipe = make_pipeline("linear", "regression", schema, {}, 0).fit(df.drop(columns="y"), df["y"])
    X = df.drop(columns="y").head(10)
    np.testing.assert_allclose(
        pipe.predict(X), pipe.predict(X.assign(colour=X["colour"].str.strip()))
    )


@pytest.mark.parametrize("block_bytes", [1 << 20, 64], ids=["one-block", "small-blocks"])
def test_a_quoted_newline_rejects_its_lines_and_keeps_every_other_row(tmp_path, model, block_bytes):
    """A record whose quoted value holds a newline, next to a blank line and a bad number:
    each of its physical lines is a reject naming the record, nothing crashes, and the line
    numbers of later rows stay right."""
    rows = [
        b"1,0.1,1,red\n",
        b'2,0.2,2,"re\n',  # line 3: the record spans lines 3-4
        b'd"\n',
        b"\n",  # line 5
        b"3,abc,3,red\n",  # line 6
        b'4,0.4,4,"5"" ring"\n',  # an escaped quote on one line is fine
        b'5,0.5,5,5" ring\n',  # a stray quote inside an unquoted value is text
        b"6,0.6,6,blue\n",
    ]
    src = tmp_path / "in.csv"
    src.write_bytes(HEADER + b"".join(rows))
    res = score_file(model, src, tmp_path / "out.csv", max_reject_rate=1, block_bytes=block_bytes)
    rejects = _rejects(res.rejects)
    assert [(line, raw) for line, _, raw in rejects] == [
        (3, '2,0.2,2,"re'),
        (4, 'd"'),
        (5, ""),
        (6, "3,abc,3,red"),
    ]
    assert "spans lines 3-4" in rejects[0][1] and "starts on line 3" in rejects[1][1]
    out = pd.read_csv(res.output)
    assert list(out["id"]) == [1, 4, 5, 6]
    assert list(out["colour"]) == ["red", '5" ring', '5" ring', "blue"]
    a = res.accounting
    assert (a.rows_read, a.rows_scored, a.rows_rejected) == (8, 4, 4) and a.balanced
    for shard_bytes in (1, 16, 40):  # a shard may end inside the record: still rejected
        res = score_file(
            model,
            src,
            tmp_path / "s.csv",
            max_reject_rate=1,
            shard_bytes=shard_bytes,
            overwrite=True,
        )
        assert list(pd.read_csv(res.output)["id"]) == [1, 4, 5, 6]
        assert [line for line, _, _ in _rejects(res.rejects)] == [3, 4, 5, 6]


def test_values_longer_than_a_parser_block_are_read(tmp_path, model):
    big = "z" * 3_000_000  # pyarrow's own block is 1 MB
    src = tmp_path / "in.csv"
    src.write_text(
        f'id,num_a,num_b,colour,note\n1,0.5,1,red,"{big}"\n2,0.5,1,{big},x\n3,bad,1,red,{big}\n'
    )
    res = score_file(model, src, tmp_path / "out.csv", max_reject_rate=1)
    out = pd.read_csv(res.output)
    assert list(out["id"]) == [1, 2] and out["note"].str.len().tolist() == [3_000_000, 1]
    assert pd.read_csv(res.rejects)["line"].tolist() == [4]
    assert res.accounting.unseen_categories["colour"] == 1


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_nested_parquet_columns_are_carried_as_json_text(tmp_path, model, frame, suffix):
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = frame(n=6).drop(columns="y").reset_index(drop=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.append_column("tags", pa.array([[1, 2], [], None, [3], [4], [5]]))
    table = table.append_column("meta", pa.array([{"a": 1, "b": "x"}] * 5 + [None]))
    pq.write_table(table, tmp_path / "in.parquet")
    res = score_file(model, tmp_path / "in.parquet", tmp_path / f"out.{suffix}")
    out = pd.read_csv(res.output) if suffix == "csv" else pd.read_parquet(res.output)
    assert out["tags"].tolist()[:2] == ["[1, 2]", "[]"] and pd.isna(out["tags"][2])
    assert out["meta"][0] == '{"a": 1, "b": "x"}' and pd.isna(out["meta"][5])
    np.testing.assert_allclose(out["prediction"], model.pipeline.predict(df))


def _shards(model, src, dest, run="7"):
    from modelops.scoring.batch import score_shard
    from modelops.scoring.reader import plan_shards

    parts = dest.with_name(f".{dest.name}.parts-{run}")
    return [score_shard(model, src, s, parts) for s in plan_shards(src, 64)]


def _merge(model, src, dest, results, **kw):
    from modelops.scoring.batch import merge_shards

    return merge_shards(
        schema=model.schema,
        model_name="m",
        model_version=0,
        input_path=src,
        results=results,
        output_path=dest,
        max_reject_rate=0.5,
        **kw,
    )


def test_a_resumed_merge_accepts_only_the_output_its_run_published(tmp_path, model, frame):
    src, dest = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(_mixed_input(frame, n=40))
    results = _shards(model, src, dest)
    _merge(model, src, dest, results)
    published = dest.read_bytes()
    assert not list(tmp_path.glob(".out.csv.parts-*"))  # parts go once published
    with pytest.raises(DataError, match="output exists"):
        _merge(model, src, dest, results)
    # killed after publishing and after removing the parts: the output is the run's
    assert _merge(model, src, dest, results, resumed=True).accounting.rows_read == 40
    assert dest.read_bytes() == published
    # killed after publishing, parts still there: same bytes are accepted...
    results = _shards(model, src, dest)
    _merge(model, src, dest, results, resumed=True)
    assert dest.read_bytes() == published
    # ...an output someone changed since is not replaced
    results = _shards(model, src, dest)
    dest.write_bytes(published + b"changed\n")
    with pytest.raises(DataError, match="not what this run produced"):
        _merge(model, src, dest, results, resumed=True)
    assert dest.read_bytes().endswith(b"changed\n")


def test_a_failed_reject_rate_removes_the_parts_it_cannot_resume_from(tmp_path, model):
    src, dest = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(HEADER + b"".join(b"%d,abc,1,red\n" % i for i in range(30)))
    with pytest.raises(DataError, match="rows rejected"):
        _merge(model, src, dest, _shards(model, src, dest))
    assert not dest.exists() and not list(tmp_path.glob(".out.csv.parts-*"))
    assert rejects_path(dest).exists()


def test_stale_staging_files_and_parts_are_swept_by_the_next_run(tmp_path):
    import os

    from modelops.scoring.outputs import STALE_SECONDS, remove_stale

    dest = tmp_path / "x.predictions.csv"
    old = [
        tmp_path / ".x.predictions.csv.parts-1",
        tmp_path / ".x.predictions.csv.abc123.tmp",
        tmp_path / ".x.predictions.rejects.csv.def456.tmp",
    ]
    fresh = tmp_path / ".x.predictions.csv.parts-2"  # a run still writing
    mine = tmp_path / ".x.predictions.csv.parts-3"  # this run's (a resume reuses it)
    other = tmp_path / ".y.predictions.csv.zzz.tmp"  # another output's
    for d in (old[0], fresh, mine):
        d.mkdir()
        (d / "part-00000.csv").write_text("x")
    for f in (*old[1:], other):
        f.write_text("x")
    for p in [*old, *(old[0].iterdir()), mine, *(mine.iterdir()), other]:
        os.utime(p, (1, 1))
    assert sorted(remove_stale(dest, keep=mine, now=STALE_SECONDS + 2)) == sorted(old)
    assert fresh.exists() and mine.exists() and other.exists()
    assert not any(p.exists() for p in old)


def test_formula_header_cells_are_neutralised_too(tmp_path, model):
    src = tmp_path / "in.csv"
    src.write_bytes(
        b'"=HYPERLINK(""http://evil.example/"",""x"")",num_a,num_b,colour\n1,0.5,2,red\n'
    )
    out = score_file(model, src, tmp_path / "out.csv")
    with open(out.output, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[0] == '\'=HYPERLINK("http://evil.example/","x")'
    assert header[1:4] == ["num_a", "num_b", "colour"] and header[4] == "prediction"


@pytest.mark.parametrize("name", ["prediction", "model_name", "model_version", "proba_yes"])
def test_input_columns_named_like_outputs_are_refused_before_reading(tmp_path, model, name):
    src = tmp_path / "in.csv"
    src.write_bytes(f"{name},num_a,num_b,colour\nkeep-me,0.5,2,red\n".encode())
    with pytest.raises(DataError, match=rf"column\(s\) \['{name}'\] have the names scoring"):
        score_file(model, src, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def _score_with_steps(reg, src, out, max_reject_rate=0.0):
    """ScoreFlow's start, score_shard and merge bodies, in process."""
    from modelops.scoring.steps import merge_step, plan_scoring, score_shard_step

    plan = plan_scoring(
        registry=reg, model_name="m", ref="production", input_path=str(src), output=str(out),
        overwrite=False, shard_mb=0.001, run_id="1",
    )  # fmt: skip
    results = [
        score_shard_step(registry=reg, plan=plan, shard=s, drift_sample=100) for s in plan.shards
    ]
    merged = merge_step(
        plan=plan, results=results, overwrite=False, max_reject_rate=max_reject_rate,
        drift_sample=100,
        seconds=0.0,
    )  # fmt: skip
    return plan, merged


@pytest.mark.parametrize("codec, suffix", [("gzip", ".gz"), ("bz2", ".bz2"), ("zstd", ".zst")])
def test_a_compressed_csv_is_scored_like_the_plain_file(tmp_path, frame, codec, suffix):
    import pyarrow as pa

    reg, _, _ = register_linear(tmp_path, frame())
    plain = tmp_path / "new.csv"
    frame(300).drop(columns="y").to_csv(plain, index=False)
    packed = tmp_path / f"new.csv{suffix}"
    with pa.CompressedOutputStream(str(packed), codec) as out:
        out.write(plain.read_bytes())
    _, a = _score_with_steps(reg, plain, tmp_path / "a.csv")
    plan, b = _score_with_steps(reg, packed, tmp_path / "b.csv")
    assert len(plan.shards) > 1  # sharded by byte ranges of the decompressed copy
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert b.input == str(packed) and b.accounting.rows_scored == 300
    assert not [p for p in tmp_path.iterdir() if ".parts-" in p.name]  # the copy is gone


def test_a_damaged_compressed_file_and_a_wrong_output_name_are_clear_errors(tmp_path, frame):
    reg, _, _ = register_linear(tmp_path, frame())
    broken = tmp_path / "new.csv.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(DataError, match="new.csv.gz: cannot be decompressed as gzip"):
        _score_with_steps(reg, broken, tmp_path / "out.csv")
    plain = tmp_path / "new.csv"
    frame(10).drop(columns="y").to_csv(plain, index=False)
    with pytest.raises(DataError, match="f.json: predictions are written as CSV or Parquet"):
        _score_with_steps(reg, plain, tmp_path / "f.json")


def test_an_output_under_a_file_fails_before_scoring(tmp_path, frame):
    reg, _, _ = register_linear(tmp_path, frame())
    plain = tmp_path / "new.csv"
    frame(10).drop(columns="y").to_csv(plain, index=False)
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(DataError, match=r"cannot write the output there: a part of the path is"):
        _score_with_steps(reg, plain, tmp_path / "blocker" / "out.csv")


def test_a_full_disk_while_scoring_is_said_plainly(tmp_path, frame, monkeypatch):
    import errno

    from modelops.scoring import steps

    reg, _, _ = register_linear(tmp_path, frame())
    plain = tmp_path / "new.csv"
    frame(10).drop(columns="y").to_csv(plain, index=False)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(steps, "score_shard", full)
    with pytest.raises(DataError, match="writing shard 0 failed: the disk is full"):
        _score_with_steps(reg, plain, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


CELLS = {  # numeric cell as text -> what every path makes of it (None: missing)
    "1.5": 1.5, " 2.5 ": 2.5, "1e3": 1000.0, "+3": 3.0, ".5": 0.5, "5.": 5.0,
    "": None, "nan": None, "NaN": None, "NA": None, "null": None, "N/A": None,
    "1_000": "reject", "\uff11\uff12": "reject", "inf": "reject", "-inf": "reject",
    "0x10": "reject", "1,5": "reject", "abc": "reject", "1e999": "reject",
}  # fmt: skip


def _batch_cells(model, tmp_path, values, name):
    src = tmp_path / f"{name}.csv"
    src.write_text(
        "num_a,num_b,colour\n" + "".join(f'"{v}",1,red\n' for v in values), encoding="utf-8"
    )
    res = score_file(model, src, tmp_path / f"{name}.out.csv", max_reject_rate=1.0)
    rejected = {values[line - 2] for line, _, _ in _rejects(res.rejects)}
    kept = [v for v in values if v not in rejected]
    scored = pd.read_csv(res.output, keep_default_na=True)["num_a"].tolist()
    return {v: "reject" for v in rejected} | {
        v: (None if pd.isna(x) else x) for v, x in zip(kept, scored, strict=True)
    }


def test_one_coercion_for_files_and_requests(tmp_path, model):
    """The same table of values through a clean CSV block (pyarrow), a block holding a bad
    line (the line-by-line reader) and a JSON request: the same number, missing or reject."""
    from modelops.serving.records import read_records

    values = list(CELLS)
    clean = [v for v, want in CELLS.items() if want != "reject"]
    assert _batch_cells(model, tmp_path, clean, "clean") == {v: CELLS[v] for v in clean}
    assert _batch_cells(model, tmp_path, values, "mixed") == CELLS
    batch = read_records(
        [{"num_a": v, " num_b ": 1, "colour": "red"} for v in values], model.schema
    )
    http = {values[r.index]: "reject" for r in batch.rejected}
    for pos, i in enumerate(batch.index):
        x = batch.frame["num_a"].iloc[pos]
        http[values[i]] = None if pd.isna(x) else x
    assert http == CELLS  # and " num_b " was the num_b column, as a CSV header would be


@pytest.mark.parametrize(
    "sep, decimal, quote", [(";", ",", '"'), ("\t", ".", '"'), ("|", ",", '"'), ("\t", ".", "'")]
)
def test_scoring_detects_the_delimiter_decimal_comma_and_quote_as_training_does(
    tmp_path, frame, sep, decimal, quote
):
    import csv

    reg, _, _ = register_linear(tmp_path, frame())
    X = frame(300).drop(columns="y")
    X.to_csv(tmp_path / "plain.csv", index=False)
    # apostrophes: the header and every text cell quoted with them, as R's writers can
    quoting = csv.QUOTE_NONNUMERIC if quote == "'" else csv.QUOTE_MINIMAL
    X.to_csv(
        tmp_path / "local.csv", index=False, sep=sep, decimal=decimal, quotechar=quote,
        quoting=quoting,
    )  # fmt: skip
    with open(tmp_path / "local.csv", "a", encoding="utf-8") as f:
        f.write(sep.join(["abc", "1", "red"]) + "\n")  # a bad row keeps its line number
    _, a = _score_with_steps(reg, tmp_path / "plain.csv", tmp_path / "a.csv")
    _, b = _score_with_steps(reg, tmp_path / "local.csv", tmp_path / "b.csv", 0.01)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))
    assert [line for line, _, _ in _rejects(b.rejects)] == [302]
    assert not [p for p in tmp_path.iterdir() if ".parts-" in p.name]
