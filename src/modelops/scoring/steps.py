"""ScoreFlow's step bodies: plan the shards, score one shard, merge the parts.

Plain functions of typed values; the flow passes in its parameters and run id and stores what
comes back as artifacts. The model is unpickled once per shard task and nowhere else: the plan
and the merge need only its contract (schema, version) and drift reference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelops import storage
from modelops.dialect import Dialect, head_text, normalise_csv, parse_delimiter, sniff_dialect
from modelops.errors import DataError
from modelops.registry import Registry
from modelops.registry.packaging import load_model, load_reference
from modelops.schema import Schema
from modelops.scoring.batch import ScoreResult, ShardResult, merge_shards, score_shard
from modelops.scoring.outputs import (
    check_output,
    default_output,
    describe_os_error,
    remove_stale,
)
from modelops.scoring.reader import Shard, check_input, plan_shards
from modelops.threads import shard_threads

log = logging.getLogger(__name__)


@dataclass
class ScorePlan:
    """What ScoreFlow decides before scoring: the verified model version and the shards."""

    model_name: str
    version: int
    model_metadata: dict[str, Any]
    input: str  # what the shards read: the file, or its decompressed copy in parts_dir
    output: str
    parts_dir: str
    shards: list[Shard]
    reference: pd.DataFrame = field(repr=False)
    neutralise_formulas: bool = True  # CSV outputs: text cells that start like a formula
    source: str = ""  # the file the user named (differs from `input` when compressed)

    @property
    def schema(self) -> Schema:
        return Schema.from_dict(self.model_metadata["schema"])

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}:v{self.version}"


def plan_scoring(
    *,
    registry: Registry,
    model_name: str,
    ref: str,
    input_path: str,
    output: str,
    overwrite: bool,
    shard_mb: float,
    run_id: str,
    flow_name: str = "ScoreFlow",
    neutralise_formulas: bool = True,
    resumed: bool = False,
    delimiter: str = "",
) -> ScorePlan:
    """Resolve and verify the model, check the input against its schema, cut it into shards.

    Everything that can fail for the whole file fails here, before any task scores a row.
    `resumed`: this is a Metaflow `resume`, and an existing output may be the one the run it
    continues published (the merge checks it is).
    """
    if not model_name:
        model_name = registry.default_model()
        log.warning(
            "no --model-name: using %r, the model this registry trained last (of %s)",
            model_name,
            registry.models(),
        )
    mv, reference = load_reference(registry, model_name, ref)
    schema = Schema.from_dict(mv.metadata["schema"])
    dest = output or default_output(input_path)
    check_output(dest, overwrite or resumed, source=input_path)
    if storage.is_s3(input_path) or storage.is_s3(dest):  # workers share S3, not a disk
        parts = storage.run_prefix(flow_name, run_id, "score-parts")
    else:
        parts = str(storage.with_name(dest, f".{storage.name(dest)}.parts-{run_id}"))
    for stale in remove_stale(dest, keep=parts):
        log.info("removed %s, left by an earlier run that did not finish", stale)
    scan = input_path
    if storage.compression(input_path) and storage.exists(input_path):
        scan = str(storage.join(parts, "input.csv"))  # removed with the parts after the merge
        try:
            storage.decompress(input_path, scan)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(
                f"{input_path}: cannot be decompressed as {storage.compression(input_path)}: "
                f"{err}"
            ) from err
        log.info("%s: decompressed to %s for sharded reading", input_path, scan)
    dialect = Dialect()
    if not storage.is_parquet(input_path) and storage.exists(scan):
        dialect = sniff_dialect(head_text(scan), parse_delimiter(delimiter))
    if dialect != Dialect():  # the sharded reader reads plain CSV: a normalised copy
        plain = str(storage.join(parts, "input-plain.csv"))
        normalise_csv(scan, plain, dialect)
        log.warning(
            "%s: read as %s (--delimiter to choose another)", input_path, dialect.describe()
        )
        scan = plain
    check_input(scan, schema)
    shards = plan_shards(scan, max(int(shard_mb * (1 << 20)), 1))
    return ScorePlan(
        model_name=model_name,
        version=mv.version,
        model_metadata=mv.metadata,
        input=str(scan),
        source=str(input_path),
        output=str(dest),
        parts_dir=parts,
        shards=shards,
        reference=reference,
        neutralise_formulas=neutralise_formulas,
    )


def score_shard_step(
    *, registry: Registry, plan: ScorePlan, shard: Shard, drift_sample: int
) -> ShardResult:
    """Score one shard with the planned version (its digest is checked again on this worker),
    on this task's share of the machine's cores (all of a remote worker's)."""
    loaded = load_model(
        registry, plan.model_name, plan.version, threads=shard_threads(len(plan.shards))
    )
    try:
        return score_shard(
            loaded,
            plan.input,
            shard,
            plan.parts_dir,
            sample_rows=drift_sample,
            parquet=storage.is_parquet(plan.output),
            neutralise_formulas=plan.neutralise_formulas,
        )
    except OSError as err:  # the disk filled up while scoring: say so, not a traceback
        raise DataError(
            f"{plan.parts_dir}: writing shard {shard.index} failed: {describe_os_error(err)}; "
            "the output was not published (resume the run once there is room)"
        ) from err


def merge_step(
    *,
    plan: ScorePlan,
    results: list[ShardResult],
    overwrite: bool,
    max_reject_rate: float,
    drift_sample: int,
    seconds: float,
    resumed: bool = False,
) -> ScoreResult:
    """Merge shard parts in input order into the output; apply the reject-rate limit."""
    return merge_shards(
        resumed=resumed,
        schema=plan.schema,
        model_name=plan.model_name,
        model_version=plan.version,
        input_path=plan.source or plan.input,
        results=results,
        output_path=plan.output,
        overwrite=overwrite,
        max_reject_rate=max_reject_rate,
        sample_rows=drift_sample,
        seconds=seconds,
    )
