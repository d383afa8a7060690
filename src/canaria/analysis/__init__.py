"""canaria.analysis: the metrics store, CloudWatch-semantics alarms and the judge.

- ``metrics``: ``Metrics``, per-second AWS/Lambda metrics in memory (``record`` is O(1)),
  read back with GetMetricStatistics semantics.
- ``alarms``: ``evaluate(spec, metrics, now, previous)``, CloudWatch's alarm evaluation
  (M out of N, TreatMissingData, percentiles).
- ``judge``: ``Judge``, the sequential test (grid-mixture SPRT e-processes) that rolls a
  worse canary back after a handful of failed requests.
"""

from canaria.analysis import alarms, judge
from canaria.analysis.alarms import AlarmEvaluation, AlarmState
from canaria.analysis.judge import Judge, JudgeState, TickCounts, Verdict
from canaria.analysis.metrics import Counts, Metrics, SecondStats

__all__ = [
    "AlarmEvaluation",
    "AlarmState",
    "Counts",
    "Judge",
    "JudgeState",
    "Metrics",
    "SecondStats",
    "TickCounts",
    "Verdict",
    "alarms",
    "judge",
]
