"""Batch scoring with a registered model: every row accounted for, memory bounded.

The file is cut into shards (one for a small file), each shard is read in blocks
(`scoring.reader`), each block is scored with the fitted pipeline (which does all
preprocessing) and appended to a part file; the parts are merged in input order into an
output that appears only when the run succeeds. Rows that cannot be scored go to a rejects
file with their line number and reason. `rows_read == rows_scored + rows_rejected` always holds.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from modelops import storage
from modelops.errors import DataError
from modelops.registry.base import sha256_file
from modelops.registry.packaging import LoadedModel
from modelops.schema import Schema
from modelops.scoring.outputs import (
    check_output,
    default_output,
    neutralise_formulas,
    neutralise_text,
    rejects_path,
)
from modelops.scoring.reader import BLOCK_BYTES, Shard, check_input, iter_chunks, plan_shards
from modelops.storage import Location

log = logging.getLogger(__name__)


def predict_frame(model: LoadedModel, df: pd.DataFrame) -> pd.DataFrame:
    """Prediction columns for `df`: `prediction`, plus `proba_<class>` for classifiers."""
    pipe = model.pipeline
    out = pd.DataFrame(index=df.index)
    if model.schema.task == "regression":
        out["prediction"] = pipe.predict(df)
    else:
        proba = pipe.predict_proba(df)
        classes = np.asarray(pipe.classes_)
        out["prediction"] = classes[np.argmax(proba, axis=1)]
        for i, cls in enumerate(classes):
            out[f"proba_{cls}"] = proba[:, i]
    out["model_name"] = model.version.name
    out["model_version"] = f"v{model.version.version}"
    return out


@dataclass
class Accounting:
    """Where every data line of the input went; stored as a Metaflow artifact."""

    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    missing_values: dict[str, int] = field(default_factory=dict)
    unseen_categories: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_schema(cls, schema: Any) -> Accounting:
        """Zero counts for every model column (missing) and categorical column (unseen)."""
        return cls(
            missing_values=dict.fromkeys(schema.feature_names, 0),
            unseen_categories=dict.fromkeys(schema.categorical, 0),
        )

    def merge(self, other: Accounting) -> None:
        """Add another shard's counts to these."""
        self.rows_read += other.rows_read
        self.rows_scored += other.rows_scored
        self.rows_rejected += other.rows_rejected
        for k, v in other.missing_values.items():
            self.missing_values[k] = self.missing_values.get(k, 0) + v
        for k, v in other.unseen_categories.items():
            self.unseen_categories[k] = self.unseen_categories.get(k, 0) + v

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_scored + self.rows_rejected

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"reject_rate": self.reject_rate, "balanced": self.balanced}


class _TableWriter:
    """Append Arrow tables to a local CSV or Parquet file (the staging file of an output)."""

    def __init__(self, path: Path, parquet: bool):
        self.path, self.parquet = path, parquet
        self.writer: Any = None
        self.schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.schema is None:  # columns that are all-null in the first block are text
            self.schema = pa.schema(
                [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
            )
            if self.parquet:
                import pyarrow.parquet as pq

                self.writer = pq.ParquetWriter(self.path, self.schema)
            else:
                import pyarrow.csv as pacsv

                self.writer = pacsv.CSVWriter(self.path, self.schema)
        self.writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class ScoreResult:
    input: str
    output: str
    rejects: str
    model_name: str
    model_version: int
    task: str
    accounting: Accounting
    prediction_summary: dict[str, float]
    seconds: float
    sample: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


class _Sample:
    """A uniform sample of scored rows of bounded size (for drift), kept in one pass.

    Each row gets a random key and the smallest keys are kept, so samples of shards merge
    into a uniform sample of the whole file by keeping the smallest keys again.
    """

    def __init__(self, size: int, seed: int):
        self.size, self.rng, self.frames = size, np.random.default_rng(seed), []

    def add(self, frame: pd.DataFrame) -> None:
        if self.size <= 0 or frame.empty:
            return
        keyed = frame if "_key" in frame else frame.assign(_key=self.rng.random(len(frame)))
        self.frames = [pd.concat(self.frames + [keyed]).nsmallest(self.size, "_key")]

    def keyed(self) -> pd.DataFrame:
        return self.frames[0] if self.frames else pd.DataFrame()

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return pd.DataFrame()
        return self.frames[0].sort_values("_key").drop(columns="_key").reset_index(drop=True)


@dataclass
class _Stats:
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    classes: dict[str, int] = field(default_factory=dict)

    def add(self, predictions: pd.Series, task: str) -> None:
        self.count += len(predictions)
        if task == "regression":
            p = predictions.to_numpy(dtype=float)
            self.total += float(p.sum())
            self.low, self.high = min(self.low, float(p.min())), max(self.high, float(p.max()))
        else:
            for k, v in predictions.value_counts().items():
                self.classes[str(k)] = self.classes.get(str(k), 0) + int(v)

    def merge(self, other: _Stats) -> None:
        self.count += other.count
        self.total += other.total
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        for k, v in other.classes.items():
            self.classes[k] = self.classes.get(k, 0) + v

    def summary(self, task: str) -> dict[str, float]:
        if task == "regression":
            return {"mean": self.total / max(self.count, 1), "min": self.low, "max": self.high}
        return {k: float(v) for k, v in sorted(self.classes.items())}


@dataclass
class ShardResult:
    """One shard's scored part, rejects part, accounting, prediction statistics and sample."""

    shard: Shard | None
    part: str
    rejects: str
    accounting: Accounting
    stats: _Stats
    sample: pd.DataFrame = field(repr=False)


def _score_into(
    *,
    model: LoadedModel,
    src: Location,
    out: _TableWriter,
    rejects: csv.Writer,
    shard: Shard,
    sample_rows: int,
    seed: int,
    block_bytes: int,
    neutralise: bool = False,
) -> tuple[Accounting, _Stats, _Sample]:
    schema = model.schema
    acct = Accounting.for_schema(schema)
    known = {c.name: set(c.categories) for c in schema.columns if c.kind == "categorical"}
    stats, sample = _Stats(), _Sample(sample_rows, seed + shard.index)
    for chunk in iter_chunks(src, schema, block_bytes, shard):
        frame = chunk.frame
        acct.rows_read += len(frame) + len(chunk.rejects)
        acct.rows_rejected += len(chunk.rejects)
        text = neutralise_text if neutralise else str
        rejects.writerows((r.line, r.reason, text(r.raw)) for r in chunk.rejects)
        if frame.empty:
            continue
        for c in schema.feature_names:
            acct.missing_values[c] += int(frame[c].isna().sum())
        for c, cats in known.items():
            s = frame[c]
            acct.unseen_categories[c] += int((s.notna() & ~s.astype(str).isin(cats)).sum())
        preds = predict_frame(model, frame)
        acct.rows_scored += len(frame)
        # every input column is kept: check_input refused names the outputs would replace
        out.write(pd.concat([neutralise_formulas(frame) if neutralise else frame, preds], axis=1))
        sample.add(frame[schema.feature_names])
        stats.add(preds["prediction"], schema.task)
        log.info("%s: %d rows read, %d rejected", src, acct.rows_read, acct.rows_rejected)
    return acct, stats, sample


def _check_rates(
    src: Location, acct: Accounting, max_reject_rate: float, rejects: Location
) -> None:
    if acct.rows_read == 0:
        raise DataError(f"{src}: no rows to score")
    if acct.reject_rate > max_reject_rate:
        raise DataError(
            f"{src}: {acct.rows_rejected} of {acct.rows_read} rows rejected "
            f"({acct.reject_rate:.1%} > --max-reject-rate {max_reject_rate:.1%}); "
            f"predictions not written, see {rejects}"
        )


def score_shard(
    model: LoadedModel,
    input_path: Location,
    shard: Shard,
    parts_dir: Location,
    *,
    sample_rows: int = 10_000,
    seed: int = 0,
    block_bytes: int = BLOCK_BYTES,
    parquet: bool = False,
    neutralise_formulas: bool = True,
) -> ShardResult:
    """Score one shard into numbered part files (merged in order by `merge_shards`).

    Scoring a whole file is this with one shard (`whole_file`). `parts_dir` is a local folder
    when every step shares a disk, an S3 prefix otherwise. Both parts appear only complete.
    """
    part = storage.join(parts_dir, f"part-{shard.index:05d}.{'parquet' if parquet else 'csv'}")
    rejects = storage.join(parts_dir, f"rejects-{shard.index:05d}.csv")
    with storage.atomic_output(part) as part_tmp, storage.atomic_output(rejects) as rej_tmp:
        out = _TableWriter(part_tmp, parquet)
        with open(rej_tmp, "w", newline="", encoding="utf-8") as rej_file:
            rej = csv.writer(rej_file)
            rej.writerow(["line", "reason", "raw"])
            try:
                acct, stats, sample = _score_into(
                    model=model,
                    src=input_path,
                    out=out,
                    rejects=rej,
                    shard=shard,
                    sample_rows=sample_rows,
                    seed=seed,
                    block_bytes=block_bytes,
                    neutralise=neutralise_formulas and not parquet,
                )
            finally:
                out.close()
    return ShardResult(shard, str(part), str(rejects), acct, stats, sample.keyed())


def merge_shards(
    *,
    schema: Schema,
    model_name: str,
    model_version: int,
    input_path: Location,
    results: list[ShardResult],
    output_path: Location,
    overwrite: bool = False,
    max_reject_rate: float = 0.05,
    sample_rows: int = 10_000,
    seconds: float = 0.0,
    resumed: bool = False,
) -> ScoreResult:
    """Concatenate shard parts in input order into the output, atomically; sum the accounting.

    Needs only the model's contract (schema, name, version), not the model itself. `resumed`
    (a Metaflow `resume` of a run killed in or after this merge): an existing output is
    accepted when it is what these parts make, or when the parts are gone, which happens
    only after the run being resumed published it; anything else is refused as before.
    """
    src, dest = input_path, output_path
    if not resumed:
        check_output(dest, overwrite, source=src)
    results = sorted(results, key=lambda r: r.shard.index)
    acct = Accounting.for_schema(schema)
    stats, sample = _Stats(), _Sample(sample_rows, 0)
    for r in results:
        acct.merge(r.accounting)
        stats.merge(r.stats)
        sample.add(r.sample)
    rejects = rejects_path(dest)
    parts = [r.part for r in results if r.accounting.rows_scored]
    gone = bool(parts) and not any(map(storage.exists, parts))
    published = resumed and gone and storage.exists(dest)
    if not published:
        try:
            _concat([r.rejects for r in results], rejects, parquet=False)
            _check_rates(src, acct, max_reject_rate, rejects)
        except DataError:  # the same parts would fail again: nothing to resume from
            _remove_parts(results)
            raise
        # a shard whose rows were all rejected leaves an empty part: nothing to merge
        parquet = storage.is_parquet(dest)
        if resumed and not overwrite and storage.exists(dest):
            _check_same(parts, dest, parquet)
        else:
            _concat(parts, dest, parquet)
    _remove_parts(results)
    return ScoreResult(
        input=str(src),
        output=str(dest),
        rejects=str(rejects),
        model_name=model_name,
        model_version=model_version,
        task=schema.task,
        accounting=acct,
        prediction_summary=stats.summary(schema.task),
        seconds=seconds,
        sample=sample.frame(),
    )


def _remove_parts(results: list[ShardResult]) -> None:
    for r in results:
        storage.remove_tree(storage.parent(r.part))


def _check_same(parts: list[str], dest: Location, parquet: bool) -> None:
    """A resumed merge found the output already there: keep it if it is what these parts
    make (the resumed run published it before it was killed), refuse otherwise."""
    with tempfile.TemporaryDirectory(prefix="modelops-merge-") as tmp:
        mine = Path(tmp) / f"output{storage.suffix(dest)}"
        _concat(parts, mine, parquet)
        with storage.fetch(dest) as theirs:
            if sha256_file(Path(theirs)) == sha256_file(mine):
                return
    raise DataError(
        f"{dest}: output exists and is not what this run produced (it changed after the run "
        "being resumed started); start a new run with --overwrite True to replace it"
    )


def _concat(parts: list[str], dest: Location, parquet: bool) -> None:
    """Parts -> one file, published when complete; CSV headers after the first dropped.

    Parts are fetched one at a time (from S3 when the steps ran on separate workers), so the
    merge holds one part on disk and 16 MB in memory.
    """
    with storage.atomic_output(dest) as tmp:
        if parquet:
            import pyarrow.parquet as pq

            writer = None
            for p in parts:
                with storage.fetch(p) as local:
                    table = pq.read_table(local)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            if writer is not None:
                writer.close()
        else:
            with open(tmp, "wb") as out:
                header_written = False
                for p in parts:
                    with storage.fetch(p) as local, open(local, "rb") as f:
                        first = f.readline()
                        if not header_written:
                            out.write(first)
                            header_written = True
                        while data := f.read(16 << 20):
                            out.write(data)


def score_file(
    model: LoadedModel,
    input_path: Location,
    output_path: Location | None = None,
    *,
    overwrite: bool = False,
    max_reject_rate: float = 0.05,
    sample_rows: int = 10_000,
    shard_bytes: int = 1 << 62,
    block_bytes: int = BLOCK_BYTES,
    neutralise_formulas: bool = True,
) -> ScoreResult:
    """ScoreFlow's path in one process: plan shards, score each, merge (one shard by default).

    For notebooks, benchmarks and tests: the same functions the flow's steps call, in order.
    """
    t0 = time.perf_counter()
    dest = output_path or default_output(input_path)
    check_output(dest, overwrite, source=input_path)
    check_input(input_path, model.schema)
    with tempfile.TemporaryDirectory(prefix="modelops-parts-") as parts:
        results = [
            score_shard(
                model,
                input_path,
                shard,
                parts,
                sample_rows=sample_rows,
                block_bytes=block_bytes,
                parquet=storage.is_parquet(dest),
                neutralise_formulas=neutralise_formulas,
            )
            for shard in plan_shards(input_path, shard_bytes)
        ]
        return merge_shards(
            schema=model.schema,
            model_name=model.version.name,
            model_version=model.version.version,
            input_path=input_path,
            results=results,
            output_path=dest,
            overwrite=overwrite,
            max_reject_rate=max_reject_rate,
            sample_rows=sample_rows,
            seconds=time.perf_counter() - t0,
        )
