"""Reasoning over readings: the reading model, rule evaluation, diagnosis flows, selection, logs and chat."""
