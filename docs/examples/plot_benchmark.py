"""The model comparison as a chart: macro-F1 and fit time of every model.

Reads the JSON written by `benchmarks/compare_models.py` (the published run by default).
"""

import json
import sys
from pathlib import Path

from _common import OUT  # noqa: E402

RESULTS = Path(__file__).parents[2] / "benchmarks" / "results" / "compare_models.json"


def main(out_dir, results=RESULTS):
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from compare_models import chart

    record = json.loads(Path(results).read_text())
    chart(record["results"], out_dir / "example_benchmark.png")
    return record


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    main(OUT)
