"""Ride-log analysis: samples -> episodes -> candidate events -> the rules engine -> events with citations.

A log has tens of thousands of samples; the rules engine is made for a few readings. So the reduction is done
with numpy (episodes of regen and of load, voltage collapses, faults, the tail of the log, peaks), and only the
handful of candidate events become Readings (the event's values plus the rider's context: --bms, --series,
--rated, --charge-limit ...) for `engine.check.check`. Whether an event is a problem, how bad, what to do and
which handbook notes back it is decided by rules in content/ (log-only phenomena: content/rules/logs.yaml).

The input is any object with the columns of drivers.logs.LogData (t_s, voltage, current in our convention:
positive = charging/regen, ...). Engine code does not import drivers: give a path together with a `loader`
(the command line passes drivers.logs.load_log).

The package: thresholds (what counts as a candidate), results (what an analysis returns), signals (vectorised
building blocks), detect (candidate events), judge (the rules adapter), pipeline (analyze, resistance_trend).
"""

from engine.logs.detect import Candidate, find_candidates
from engine.logs.pipeline import analyze, resistance_trend
from engine.logs.results import Event, LogAnalysis, PlotSeries, Resistance
from engine.logs.signals import downsample, estimate_resistance, held, runs
from engine.logs.thresholds import FAULT_NAMES, TRIP_KINDS

__all__ = ["FAULT_NAMES", "TRIP_KINDS", "Candidate", "Event", "LogAnalysis", "PlotSeries", "Resistance", "analyze",
           "downsample", "estimate_resistance", "find_candidates", "held", "resistance_trend", "runs"]
