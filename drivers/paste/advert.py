"""A pasted BLE advertisement -> which BMS family and protocol it is, identified by aiobmsble's own matchers.

Shapes: the JSON aiobmsble's test data and Home Assistant's advertisement monitor use (`{"local_name": ...,
"manufacturer_data": {"2917": "88a0..."}, "service_uuids": [...]}`, optionally under "advertisement"), and bleak's
printed `AdvertisementData(local_name='...', manufacturer_data={8979: b'\\x88...'}, service_uuids=[...])`.
aiobmsble.test_data.adv_dict_to_advdata builds the AdvertisementData and aiobmsble.utils.bms_identify picks the
class; nothing is matched here by hand.
"""

from __future__ import annotations

import json
import re
from typing import Any

from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text
from kb.errors import UserError

NAME = "ble-advertisement"
_KEYS = {"local_name", "manufacturer_data", "service_uuids", "service_data"}
_MAC = re.compile(r"\b(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\b")
_REPR = re.compile(r"AdvertisementData\((?P<body>.*)\)", re.DOTALL)
_NAME = re.compile(r"local_name=(?:'([^']*)'|\"([^\"]*)\")")
_MFR = re.compile(r"(\d+)\s*:\s*b'((?:[^'\\]|\\.)*)'")
_UUIDS = re.compile(r"service_uuids=\[([^\]]*)\]")
_SVC = re.compile(r"'([0-9a-fA-F-]{36})'\s*:\s*b'((?:[^'\\]|\\.)*)'")
PROTOCOLS = {
    "jikong_bms": ("jk", "JK02 (aiobmsble jikong_bms; 24S or 32S layout follows the firmware read at connect)"),
    "jbd_bms": ("jbd", "JBD (aiobmsble jbd_bms)"),
    "ant_bms": ("ant", "ANT 2021 protocol (aiobmsble ant_bms, frames 7E A1)"),
    "ant_leg_bms": ("ant", "ANT legacy protocol (aiobmsble ant_leg_bms, frames AA 55 AA FF)"),
    "daly_bms": ("daly", "Daly (aiobmsble daly_bms; D2 or 0x81 protocol is found at connect)"),
}


def _from_json(text: str) -> dict | None:
    s = clean_text(text).strip()
    if not s.startswith("{"):
        return None
    try:
        data = json.loads(s)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("advertisement"), dict):
        data = data["advertisement"]
    if isinstance(data, dict) and len(_KEYS & set(data)) >= 1 and ("local_name" in data or "manufacturer_data" in data):
        return data
    return None


def _from_repr(text: str) -> dict | None:
    from drivers.paste.hexlog import _literal_bytes

    m = _REPR.search(text)
    if not m:
        return None
    body = m.group("body")
    out: dict[str, Any] = {}
    if n := _NAME.search(body):
        out["local_name"] = n.group(1) if n.group(1) is not None else n.group(2)
    mfr = re.search(r"manufacturer_data=\{([^}]*)\}", body)
    if mfr:
        out["manufacturer_data"] = {k: _literal_bytes(v).hex() for k, v in _MFR.findall(mfr.group(1))}
    svc = re.search(r"service_data=\{([^}]*)\}", body)
    if svc:
        out["service_data"] = {k: _literal_bytes(v).hex() for k, v in _SVC.findall(svc.group(1))}
    if u := _UUIDS.search(body):
        out["service_uuids"] = re.findall(r"'([^']+)'", u.group(1))
    return out or None


def _advert(text: str) -> dict | None:
    return _from_json(text) or _from_repr(text)


def detect(text: str) -> float:
    if "local_name" not in text[:100_000]:
        return 0.0
    return 0.99 if _advert(text) else 0.0


def identify(adv: dict, mac: str) -> str | None:
    """aiobmsble's module name for the advertisement (e.g. 'ant_bms'), or None."""
    from aiobmsble.test_data import adv_dict_to_advdata
    from aiobmsble.utils import bms_identify

    from drivers.paste.frames import _run

    fields = {k: adv[k] for k in ("local_name", "manufacturer_data", "service_data", "service_uuids", "rssi")
              if k in adv}
    data = adv_dict_to_advdata(fields)
    cls = _run(lambda: bms_identify(data, mac))
    return cls.__module__.rsplit(".", 1)[-1] if cls else None


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    adv = _advert(text)
    if adv is None:
        raise UserError("could not read the advertisement")
    mac_m = _MAC.search(text)
    mac = mac_m.group(0) if mac_m else "00:00:00:00:00:00"
    try:
        module = identify(adv, mac)
    except (ValueError, TypeError, AssertionError) as e:
        raise UserError(f"the advertisement could not be read: {e}") from None
    name = adv.get("local_name") or "(no name)"
    if module is None:
        raise UserError(f"aiobmsble does not recognise the advertisement of '{name}' as any BMS it supports")
    if module not in PROTOCOLS:
        raise UserError(f"aiobmsble identifies '{name}' as {module}, which is not one of the families bmsdoc checks "
                        f"(JK, JBD, ANT, Daly)")
    family, protocol = PROTOCOLS[module]
    p.fields["bms"] = family
    p.format = f"{NAME}: {protocol}"
    p.note(f"advertisement of '{name}' identified by aiobmsble as {module}: {protocol}")
    p.note("an advertisement names the BMS only: no measurement is in it")
    return p
