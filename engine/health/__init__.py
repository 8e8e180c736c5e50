"""Pack health over time: per-cell resistance, weak versus unbalanced cells, capacity, energy and cycles.

Cell-model-free estimators over recordings (numpy): resistance from load steps (steps.py), rests and capacity by
coulomb counting between them (rests.py, capacity.py), verdicts per cell (classify.py), trends across recordings
and the findings (analyze.py), the report with plots (report.py), and a synthetic pack for tests (synth.py).
The thresholds, OCV curves and finding texts are data: content/health.yaml (kb/health.py).
"""

from engine.health.analyze import HealthReport, analyze
from engine.health.data import Recording

__all__ = ["HealthReport", "Recording", "analyze"]
