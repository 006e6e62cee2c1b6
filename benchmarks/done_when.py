"""Issue 14's "done when" list, checked on one benchmark run (``benchmarks/run.py`` results).

Each criterion compares our example with its hand-written port in the same run:

* modeled run time (``pipeline-constructs show --estimate``): .NET typical run <= 0.75x the port's
  and first deployment done <= 0.65x; layer typical <= the port's; Glue and Flink-infrastructure
  first deployment <= the port's;
* synth time, the five cdk-nag packs on (variant ``library``): <= 1.0x the port on the same Node
  (the project's Node 24), and <= 0.70x the port run on the machine's default Node (Node 20).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Criterion", "criteria", "print_criteria"]


@dataclass(frozen=True)
class Criterion:
    """One line of the list: what is compared, the two numbers, the allowed ratio and the verdict."""

    what: str
    ours: float | None
    port: float | None
    limit: float

    @property
    def ratio(self) -> float | None:
        return None if self.ours is None or not self.port else self.ours / self.port

    @property
    def met(self) -> bool | None:
        return None if self.ratio is None else self.ratio <= self.limit + 1e-9


#: (example, our pipeline's name words, model key, allowed ratio): the modeled criteria.
MODEL_CRITERIA: tuple[tuple[str, str | None, str, float], ...] = (
    ("dotnet_lambda", None, "typical_s", 0.75),
    ("dotnet_lambda", None, "first_deployment_s", 0.65),
    ("multi_region_layer", None, "typical_s", 1.0),
    ("glue_etl", None, "first_deployment_s", 1.0),
    ("kda_app", "infrastructure", "first_deployment_s", 1.0),
)


def _model_row(results: dict[str, Any], example: str, pipeline_word: str | None) -> dict[str, Any] | None:
    rows = (results.get("model", {}).get(example) or {}).get("vs_port") or []
    for row in rows:
        if pipeline_word is None or pipeline_word in row["pipeline"]:
            return dict(row)
    return None


def criteria(results: dict[str, Any]) -> list[Criterion]:
    """Every criterion of the list that ``results`` (a ``results.json`` object) has the numbers for."""
    out: list[Criterion] = []
    labels = {"typical_s": "typical run", "first_deployment_s": "first deployment done"}
    for example, word, key, limit in MODEL_CRITERIA:
        row = _model_row(results, example, word)
        if row is None:
            continue
        name = row["pipeline"]
        out.append(Criterion(f"model {example} ({name}) {labels[key]} s", row[key]["ours"], row[key]["port"], limit))
    for example, row in sorted((results.get("examples") or {}).items()):
        ours = (row.get("library") or {}).get("synth_median_s") or {}
        port = (row.get("handwritten") or {}).get("synth_median_s") or {}
        if not port:
            continue
        out.append(
            Criterion(
                f"synth {example}, packs on, node24 vs port node24 s", ours.get("node24"), port.get("node24"), 1.0
            )
        )
        if "node20" in port:
            out.append(
                Criterion(
                    f"synth {example}, packs on, node24 vs port node20 s", ours.get("node24"), port.get("node20"), 0.70
                )
            )
    return out


def print_criteria(results: dict[str, Any]) -> int:
    """Print the list; returns how many criteria are not met."""
    rows = criteria(results)
    print("\n== done when (issue 14), this run")
    print(f"{'criterion':<72} {'ours':>8} {'port':>8} {'ratio':>6} {'limit':>6}  verdict")
    missed = 0
    for c in rows:
        ratio = "-" if c.ratio is None else f"{c.ratio:.2f}"
        verdict = {True: "met", False: "NOT met", None: "no data"}[c.met]
        missed += c.met is False
        print(
            f"{c.what:<72} {c.ours if c.ours is not None else '-':>8} {c.port if c.port is not None else '-':>8} "
            f"{ratio:>6} {c.limit:>6.2f}  {verdict}"
        )
    return missed
