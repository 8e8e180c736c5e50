"""Drivers: everything that turns the outside world into Readings.

paste/   pasted text (tool outputs, logs, rider-typed lists, BLE frames in hex) -> reading fields
sample   aiobmsble's BMSSample -> reading fields (shared by the paste frames parser and the live BLE driver)
logs/    ride-log files (VESC RT CSV, LogUI CSV, generic CSV) -> time series

Drivers depend on engine.reading only; conventions (units, current sign) are normalised here, at the boundary.
"""
