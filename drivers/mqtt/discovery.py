"""Home Assistant MQTT discovery for the packs bmsdoc diagnoses (retained, per entity).

For each pack, one device "bmsdoc {pack}" with
    sensor         homeassistant/sensor/bmsdoc_{id}/diagnosis/config   state: ok|info|warning|critical|stale,
                   attributes: the finding titles (bmsdoc/{pack}/attributes)
    binary_sensor  homeassistant/binary_sensor/bmsdoc_{id}/problem/config   ON for a warning or critical finding
Both are available while `bmsdoc/status` says `online` (the worker's last will sets `offline`); the binary sensor
is also unavailable while the pack is stale. Home Assistant
forgets entities on restart unless discovery is sent again: the service re-sends it when `homeassistant/status`
says `online`.
"""

from __future__ import annotations

import json
import re

PREFIX = "homeassistant"
AVAILABILITY = "bmsdoc/status"


def object_id(pack: str) -> str:
    """A stable id from the pack name: [a-z0-9_] only, plus a short hash when the name had to be changed."""
    slug = re.sub(r"[^a-z0-9_]+", "_", pack.lower()).strip("_") or "pack"
    if slug != pack:
        import hashlib

        slug += "_" + hashlib.blake2b(pack.encode(), digest_size=3).hexdigest()
    return slug


def configs(pack: str, *, kb_version: str = "") -> list[tuple[str, bytes]]:
    """(topic, payload) of every discovery message of one pack."""
    oid = object_id(pack)
    device = {"identifiers": [f"bmsdoc_{oid}"], "name": f"bmsdoc {pack}", "manufacturer": "bmsdoc",
              "model": "BMS diagnosis", "sw_version": kb_version or None}
    device = {k: v for k, v in device.items() if v is not None}
    origin = {"name": "bmsdoc"}
    common = {"availability_topic": AVAILABILITY, "payload_available": "online", "payload_not_available": "offline",
              "device": device, "origin": origin}
    sensor = {"name": "Diagnosis", "unique_id": f"bmsdoc_{oid}_diagnosis", "state_topic": f"bmsdoc/{pack}/status",
              "json_attributes_topic": f"bmsdoc/{pack}/attributes", "icon": "mdi:battery-heart-variant",
              "device_class": "enum", "options": ["ok", "info", "warning", "critical", "stale"], **common}
    # A silent pack is neither a problem nor fine: while it is stale the Problem sensor is unavailable (a BMS trip
    # that also cut the power of the ESP or Pi sending its data must not look resolved); Diagnosis says "stale".
    problem = {"name": "Problem", "unique_id": f"bmsdoc_{oid}_problem", "state_topic": f"bmsdoc/{pack}/status",
               "device_class": "problem",
               "value_template": "{{ 'ON' if value in ['warning', 'critical'] else 'OFF' }}", **common}
    del problem["availability_topic"], problem["payload_available"], problem["payload_not_available"]
    problem["availability_mode"] = "all"
    problem["availability"] = [
        {"topic": AVAILABILITY, "payload_available": "online", "payload_not_available": "offline"},
        {"topic": f"bmsdoc/{pack}/status", "value_template": "{{ 'offline' if value == 'stale' else 'online' }}",
         "payload_available": "online", "payload_not_available": "offline"}]
    return [(f"{PREFIX}/sensor/bmsdoc_{oid}/diagnosis/config", json.dumps(sensor).encode()),
            (f"{PREFIX}/binary_sensor/bmsdoc_{oid}/problem/config", json.dumps(problem).encode())]
