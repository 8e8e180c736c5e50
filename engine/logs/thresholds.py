"""What the log analysis counts as a candidate: thresholds, fault names and the trip vocabulary.

They only decide what becomes a candidate; whether a candidate matters is up to the rules in content/."""

from __future__ import annotations

# Detection thresholds: they only decide what becomes a candidate. Whether a candidate matters is up to the rules.
REGEN_MIN_A = 2.0  # charging current that makes a regen episode
LOAD_MIN_A = 5.0  # discharge current that makes a load episode
EPISODE_GAP_S = 1.0  # episodes closer than this are one (a brake pulse, regen paused by a fault)
COLLAPSE_FRACTION = 0.5  # pack voltage below half its usual level has collapsed (a cut)
COLLAPSE_GAP_S = 1.0
PRE_S = 2.0  # look-back for the current that preceded an event
POST_S = 1.0  # look-ahead for the lowest/highest voltage after it
LATCH_OBSERVE_S = 2.0  # a cut must be seen this long to say whether it held
LOG_END_S = 1.0  # "the log ends right after": within this
SPIKE_FRACTION = 0.06  # a rise beyond the IR model of 6 % of pack voltage (at least SPIKE_MIN_V) is a spike
SPIKE_MIN_V = 2.0
REST_A = 1.0  # |current| below this is rest
RES_WINDOW_S = 30.0  # resistance: per-window deviations, so the slow state-of-charge drift cancels
RES_MIN_STD_A = 3.0  # windows without load steps carry no information
RES_MIN_SAMPLES = 30
MAX_CHECKS = 600  # per kind, at most this many episode readings go through the engine (the largest ones)
FAULT_NAMES = {0: "none", 1: "over_voltage", 2: "under_voltage", 3: "drv", 4: "abs_over_current", 5: "over_temp_fet",
               6: "over_temp_motor", 7: "gate_driver_over_voltage", 8: "gate_driver_under_voltage",
               9: "mcu_under_voltage", 10: "booting_from_watchdog_reset"}  # VESC mc_fault_code
TRIP_KINDS = ("discharge_cut", "regen_cut", "log_end_under_load", "controller_fault", "trip_latched", "trip_released")
NEEDS = {"cell_mean": "series"}  # a derived value a log rule missed -> the context flag that supplies it
