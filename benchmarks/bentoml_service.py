"""The same /predict as `modelops serve`, on BentoML instead of FastAPI: for the serving-stack
comparison in BENCHMARKS.md only (BentoML is not a project dependency).

    python -m venv /tmp/bento && /tmp/bento/bin/pip install bentoml     # its own environment
    printf '%s\n' $PWD/.venv/lib/python3.11/site-packages $PWD/src \
        > /tmp/bento/lib/python3.11/site-packages/modelops.pth          # the project's packages
    .venv/bin/python benchmarks/serve_benchmark.py --server /tmp/bento/bin/bentoml

The body is `{"records": [...]}` (BentoML maps JSON keys to the method's parameters), which
`modelops serve` accepts too, so one load client measures both. The model is loaded and
scored by the same functions (`load_served`, `read_records`, `score`, `answer`).
"""

from __future__ import annotations

import os
from typing import Any

import bentoml


@bentoml.service(workers=1, traffic={"timeout": 60})
class Predictor:
    def __init__(self) -> None:
        from modelops.registry import open_registry
        from modelops.serving.live import load_served

        name = os.environ.get("MODEL", "diamonds-price")
        self.served = load_served(open_registry("local"), name, "production")

    @bentoml.api
    def predict(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        from modelops.serving.app import answer, score
        from modelops.serving.records import read_records

        batch = read_records(records, self.served.model.schema)
        predictions, failed = score(self.served, batch)
        return answer(self.served, batch, predictions, failed)
