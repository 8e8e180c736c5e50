"""Rebuild the paste corpus (tests/data/paste/corpus/*.txt and manifest.json) from its public sources.

    .venv/bin/python tests/data/paste/corpus/build.py [--aiobmsble-sdist DIR] [--mirror DIR]

Frames come from tests/data/frames/*.json (aiobmsble 0.31.0's and batmon-ha's captures, licences there) and, when
the sources are at hand, from aiobmsble's sdist (the ANT problem frames of tests/bms/test_ant_bms.py) and syssi's
esphome-jk-bms / -jbd-bms / -ant-bms repositories (their logs and the JK04 example frame). Each frame set is laid
out as riders paste it (sniffer lines, ESPHome dotted hex, hexdump -C, xxd, one line, Python literals, nRF
Connect with the app's writes, >>> / <<< logs). The expected values are what the parser reads, checked here
against the values the sources state (aiobmsble's expected samples) before they are written: a build that
disagrees with a source stops.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
sys.path.insert(0, str(ROOT))

from drivers.paste import parse_text  # noqa: E402
from kb.errors import UserError  # noqa: E402

FRAMES = ROOT / "tests" / "data" / "frames"


def spaced(b: bytes) -> str:
    return " ".join(f"{x:02x}" for x in b)


def chunks(b: bytes, n: int) -> list[bytes]:
    return [b[i:i + n] for i in range(0, len(b), n)] if n else [b]


# ---------------------------------------------------------------------------- layouts

def sniffer(frames: list[bytes], chunk: int, requests: list[bytes]) -> str:
    lines, t = [], 0
    for i, f in enumerate(frames):
        if i < len(requests):
            lines.append(f"12:00:{t // 1000:02d}.{t % 1000:03d}  write ffe1  {spaced(requests[i])}")
        for c in chunks(f, chunk):
            t += 37
            lines.append(f"12:00:{t // 1000:02d}.{t % 1000:03d}  notify ffe1  {spaced(c)}")
    return "\n".join(lines) + "\n"


def esphome_dotted(frames: list[bytes]) -> str:
    out = []
    for f in frames:
        for c in chunks(f, 150):
            out.append(f"[12:00:01][VV][ble_client:042]: {'.'.join(f'{x:02X}' for x in c)} ({len(c)})")
    return "\n".join(out) + "\n"


def hexdump_c(frames: list[bytes]) -> str:
    data = b"".join(frames)
    out = []
    for off in range(0, len(data), 16):
        row = data[off:off + 16]
        left = " ".join(f"{x:02x}" for x in row[:8])
        right = " ".join(f"{x:02x}" for x in row[8:])
        asc = "".join(chr(x) if 32 <= x < 127 else "." for x in row)
        out.append(f"{off:08x}  {left:<23}  {right:<23}  |{asc}|")
    out.append(f"{len(data):08x}")
    return "\n".join(out) + "\n"


def xxd(frames: list[bytes]) -> str:
    data = b"".join(frames)
    out = []
    for off in range(0, len(data), 16):
        row = data[off:off + 16]
        groups = " ".join(row[i:i + 2].hex() for i in range(0, len(row), 2))
        asc = "".join(chr(x) if 32 <= x < 127 else "." for x in row)
        out.append(f"{off:08x}: {groups:<39}  {asc}")
    return "\n".join(out) + "\n"


def one_line(frames: list[bytes]) -> str:
    return " ".join(f.hex().upper() for f in frames) + "\n"


def python_literals(frames: list[bytes]) -> str:
    out = ["frames = ["]
    for f in frames:
        out.append("    bytearray(")
        for c in chunks(f, 20):
            out.append('        b"' + "".join(f"\\x{x:02x}" for x in c) + '"')
        out.append("    ),")
    out.append("]")
    return "\n".join(out) + "\n"


def nrf_connect(frames: list[bytes], requests: list[bytes], chunk: int) -> str:
    out = ["I\t14:22:05.123\tConnected to C8:47:8C:E1:23:45",
           "D\t14:22:05.201\tgatt.discoverServices()",
           "I\t14:22:05.480\tServices discovered",
           "I\t14:22:05.500\tNotifications enabled for 0000ffe1-0000-1000-8000-00805f9b34fb"]
    t = 600
    for i, f in enumerate(frames):
        if i < len(requests):
            out.append(f"V\t14:22:05.{t:03d}\tWriting command to characteristic 0000ffe1-0000-1000-8000-00805f9b34fb")
            out.append(f"A\t14:22:05.{t + 1:03d}\t\"(0x) {'-'.join(f'{x:02X}' for x in requests[i])}\" sent")
            t += 2
        for c in chunks(f, chunk):
            out.append(f"A\t14:22:05.{t:03d}\tNotification received from 0000ffe1-0000-1000-8000-00805f9b34fb, "
                       f"value: (0x) {'-'.join(f'{x:02X}' for x in c)}")
            t += 3
    return "\n".join(out) + "\n"


def request_reply(frames: list[bytes], requests: list[bytes]) -> str:
    out = []
    for i, f in enumerate(frames):
        if i < len(requests):
            out.append(f">>> {':'.join(f'{x:02X}' for x in requests[i])}")
        out.append(f"<<< {':'.join(f'{x:02X}' for x in f)}")
    return "\n".join(out) + "\n"


def wireshark(frames: list[bytes]) -> str:
    data = b"".join(frames)
    out = []
    for off in range(0, len(data), 16):
        row = data[off:off + 16]
        h = " ".join(f"{x:02x}" for x in row[:8]) + "  " + " ".join(f"{x:02x}" for x in row[8:])
        out.append(f"{off:04x}   {h:<48}   " + "".join(chr(x) if 32 <= x < 127 else "." for x in row))
    return "\n".join(out) + "\n"


def c_array(frames: list[bytes]) -> str:
    out = []
    for n, f in enumerate(frames):
        out.append(f"static const uint8_t frame{n}[{len(f)}] = {{")
        out += ["    " + ", ".join(f"0x{x:02X}" for x in f[i:i + 12]) + "," for i in range(0, len(f), 12)]
        out.append("};")
    return "\n".join(out) + "\n"


LAYOUTS = {
    "wireshark": lambda fr, ch, rq: wireshark(fr),
    "c-array": lambda fr, ch, rq: c_array(fr),
    "sniffer": lambda fr, ch, rq: sniffer(fr, ch, rq),
    "esphome-dotted": lambda fr, ch, rq: esphome_dotted(fr),
    "hexdump-c": lambda fr, ch, rq: hexdump_c(fr),
    "xxd": lambda fr, ch, rq: xxd(fr),
    "one-line": lambda fr, ch, rq: one_line(fr),
    "python-literals": lambda fr, ch, rq: python_literals(fr),
    "nrf-connect": lambda fr, ch, rq: nrf_connect(fr, rq, ch),
    "request-reply": lambda fr, ch, rq: request_reply(fr, rq),
}


# ---------------------------------------------------------------------------- frame sets

def requests_for(family: str) -> list[bytes]:
    from aiobmsble.bms import ant_bms, ant_leg_bms, jbd_bms, jikong_bms

    return {
        "jk": [jikong_bms.BMS._cmd(0x97), jikong_bms.BMS._cmd(0x96)],
        "jbd": [jbd_bms.BMS._cmd(0x03), jbd_bms.BMS._cmd(0x04)],
        "ant": [ant_bms.BMS._cmd(0x01, 0, 0xBE), ant_bms.BMS._cmd(0x02, 0x026C, 0x20)],
        "ant_leg": [ant_leg_bms.BMS._cmd(ant_leg_bms.BMS.CMD.GET, ant_leg_bms.BMS.ADR.STATUS)],
    }.get(family, [])


def frame_sets(sdist: Path | None, mirror: Path | None) -> list[dict]:
    d = json.loads((FRAMES / "aiobmsble_frames.json").read_text())
    sets = []
    for variant, v in d["jk"].items():
        fr = v["frames"]
        sets.append({"id": f"jk-{variant.lower()}", "family": "jk", "chunk": 128, "expected": v["expected"],
                     "frames": [bytes.fromhex(fr["dev"]), bytes.fromhex(fr["cell"])], "source": "aiobmsble"})
        sets.append({"id": f"jk-{variant.lower()}-cell-only", "family": "jk", "chunk": 128, "expected": v["expected"],
                     "frames": [bytes.fromhex(fr["cell"])], "source": "aiobmsble", "requests": []})
    v = d["jbd"]["v4"]
    sets.append({"id": "jbd-v4", "family": "jbd", "chunk": 20, "expected": v["expected"], "source": "aiobmsble",
                 "frames": [bytes.fromhex(v["frames"]["basic"]), bytes.fromhex(v["frames"]["cells"])]})
    v = d["ant"]["2021"]
    sets.append({"id": "ant-2021", "family": "ant", "chunk": 20, "expected": v["expected"], "source": "aiobmsble",
                 "frames": [bytes.fromhex(v["frames"]["status"]), bytes.fromhex(v["frames"]["device"])]})
    for name, v in d["ant_leg"].items():
        sets.append({"id": f"ant-legacy-{name.replace('_', '-')}", "family": "ant_leg", "chunk": 20,
                     "expected": v["expected"], "frames": [bytes.fromhex(v["frames"]["status"])],
                     "source": "aiobmsble"})
    v = d["daly"]["D2"]
    reqs = [bytes.fromhex(k) for k in v["frames"]]
    sets.append({"id": "daly-d2", "family": "daly", "chunk": 20, "expected": v["expected"], "source": "aiobmsble",
                 "frames": [bytes.fromhex(x) for x in v["frames"].values()], "requests": reqs})
    if sdist:
        for name, frame in _ant_problem_frames(sdist / "tests" / "bms" / "test_ant_bms.py"):
            code = 0x202 if name == "low_value" else 0xE0E
            sets.append({"id": f"ant-2021-protection-{name.replace('_', '-')}", "family": "ant", "chunk": 20,
                         "expected": {"problem_code": code, "chrg_mosfet": False, "dischrg_mosfet": False},
                         "frames": [frame], "source": "aiobmsble"})
    if mirror:
        jk04 = _jk04_frame(mirror)
        if jk04:
            sets.append({"id": "jk04", "family": "jk", "chunk": 0, "expected": {}, "frames": [jk04],
                         "source": "esphome-jk-bms", "requests": []})
    return sets


def _ant_problem_frames(path: Path) -> list[tuple[str, bytes]]:
    """The (frame, name) params of aiobmsble's ANT problem_response fixture, read as literals (never run)."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "prb_response":
            for dec in node.decorator_list:
                for kw in getattr(dec, "keywords", []):
                    if kw.arg == "params":
                        for elt in kw.value.elts:
                            frame_node, name_node = elt.elts
                            call = frame_node
                            lit = call.args[0] if isinstance(call, ast.Call) else call
                            out.append((ast.literal_eval(name_node), bytes(ast.literal_eval(lit))))
    return out


def _jk04_frame(mirror: Path) -> bytes | None:
    import re
    import subprocess

    repo = mirror / "syssi+esphome-jk-bms" / "repo"
    if not repo.exists():
        return None
    src = subprocess.run(["git", "-C", str(repo), "show", "HEAD:components/jk_bms_ble/jk_bms_ble.cpp"],
                         capture_output=True, text=True, check=True).stdout
    start = src.index("void JkBmsBle::decode_jk04_cell_info_")
    block = src[start:src.index("// Byte Len", start)]
    data = bytes(int(x, 16) for x in re.findall(r"0x([0-9A-F]{2})", block))
    return data if len(data) == 300 else None


# ---------------------------------------------------------------------------- checks against the sources

def _check(set_: dict, fields: dict) -> None:
    exp = set_["expected"]
    if not exp:
        return
    if "voltage" in exp:
        assert fields["pack_voltage"] == round(exp["voltage"], 3), (set_["id"], fields)
    if "current" in exp:
        assert fields["current"] == round(exp["current"], 3) + 0.0, (set_["id"], fields)
    if "cell_voltages" in exp:
        assert fields["cells"] == [round(c, 4) for c in exp["cell_voltages"] if c], (set_["id"], fields)
    if "battery_level" in exp:
        assert fields["soc"] == exp["battery_level"]
    if "chrg_mosfet" in exp:
        assert fields["charge_fet"] is bool(exp["chrg_mosfet"])
    if "dischrg_mosfet" in exp:
        assert fields["discharge_fet"] is bool(exp["dischrg_mosfet"])
    if "problem_code" in exp:
        assert fields["protection_active"] is bool(exp["problem_code"]), (set_["id"], fields)


def build(sdist: Path | None, mirror: Path | None) -> list[dict]:
    items: list[dict] = []
    for s in frame_sets(sdist, mirror):
        reqs = s.get("requests", requests_for(s["family"]))
        for layout, make in LAYOUTS.items():
            text = make(s["frames"], s["chunk"] or 0, reqs)
            name = f"{s['id']}.{layout}.txt"
            (HERE / name).write_text(text)
            items.append(_expect(name, text, s["source"], s))
    for name, text, source in _tool_outputs(mirror):
        (HERE / name).write_text(text)
        items.append(_expect(name, text, source, None))
    for name, source in (("../esphome-jk-bms-ble-log.txt", "esphome-jk-bms"), ("../jbdtool-jbd-4s.txt", "esphome-jbd-bms"),
                         ("../frames-jbd.txt", "aiobmsble"), ("../frames-ant.txt", "aiobmsble"),
                         ("../frames-daly.txt", "aiobmsble"), ("../frames-jk02-32s.txt", "aiobmsble"),
                         ("../frames-jk02-24s-cell-only.txt", "aiobmsble")):
        items.append(_expect(name, (HERE / name).read_text(), source, None))
    return items


def _expect(name: str, text: str, source: str, set_: dict | None) -> dict:
    try:
        p = parse_text(text)
    except UserError as e:
        return {"file": name, "source": source, "error": str(e)}
    if set_ is not None:
        _check(set_, p.fields)
    item = {"file": name, "source": source, "format": p.format, "fields": p.fields}
    if p.ambiguities:
        item["ambiguities"] = p.ambiguities
    return item


def _tool_outputs(mirror: Path | None) -> list[tuple[str, str, str]]:
    import subprocess

    out = []
    if mirror:
        def show(repo: str, path: str) -> str:
            return subprocess.run(["git", "-C", str(mirror / repo / "repo"), "show", f"HEAD:{path}"],
                                  capture_output=True, text=True, check=True).stdout

        readme = show("syssi+esphome-jbd-bms", "README.md").splitlines()
        i = next(n for n, ln in enumerate(readme) if "uart_debug:114]: >>> DD:A5:03" in ln)
        j = next(n for n in range(i, len(readme)) if readme[n].startswith("```"))
        out.append(("esphome-jbd-mosfet-software-lock.txt", "\n".join(readme[i:j]) + "\n", "esphome-jbd-bms"))
        out.append(("esphome-jbd-16s-dead-cell-16.txt", show("syssi+esphome-jbd-bms",
                    "docs/pdus/JBD-SP25S003-L16S-100A-100A-B.txt"), "esphome-jbd-bms"))
        readme = show("syssi+esphome-ant-bms", "README.md").splitlines()
        i = next(n for n, ln in enumerate(readme) if "'ant-bms total voltage'" in ln)
        j = next(n for n in range(i, len(readme)) if readme[n].startswith("```"))
        block = readme[i:j]
        out.append(("esphome-ant-readme.txt", "\n".join(block) + "\n", "esphome-ant-bms"))
        # the same log with probe 4 open (-40 °C): our edit of one value, to check the open-probe rule
        opened = [ln.replace("Sending state 20.00000 °C", "Sending state -40.00000 °C")
                  if "'ant-bms temperature 4'" in ln else ln for ln in block]
        out.append(("esphome-ant-open-probe-4.txt", "\n".join(opened) + "\n", "esphome-ant-bms (one value edited)"))
    if mirror:
        out.extend(_batmon_fixtures(mirror))
    if sdist_daly_x81 := _daly_x81_source():
        out.append(("daly-0x81.python-dict.txt", sdist_daly_x81, "aiobmsble"))
    # tool layouts written by us (no copied text): batmon-ha's BmsSampl line (its bms.py __str__ layout) with the
    # aiobmsble JBD capture's values, with and without the invert_current option; a VESC `faults` block in the
    # VESC firmware's terminal layout; an nRF Connect log with no notification in it
    sample = "INFO jbd_bms: BmsSampl(100.0%,U=15.6V,I=2.87A,P=-45W,Q=5/5Ah,mos=22°C) volt=[3430,3425,3432,3417]"
    out.append(("batmon-ha-no-option.txt", sample + "\n", "ours (batmon-ha layout)"))
    out.append(("batmon-ha-invert-false.txt", "invert_current: false\n" + sample + "\n", "ours (batmon-ha layout)"))
    out.append(("vesc-faults-under-voltage.txt",
                "The following faults were registered since start:\n\n"
                "    Fault            : FAULT_CODE_UNDER_VOLTAGE\n    Motor            : 1\n"
                "    Current          : 85.2\n    Current filtered : 80.1\n    Voltage          : 8.00\n"
                "    Duty             : 0.950\n    RPM              : 31516.2\n    Tacho            : 14302\n"
                "    Cycles running   : 1204\n    TIM duty         : 7980\n    Temperature      : 56.14\n",
                "ours (VESC terminal layout)"))
    out.append(("nrf-connect-no-frames.txt",
                "I\t14:22:05.123\tConnected to C8:47:8C:E1:23:45\nD\t14:22:05.201\tgatt.discoverServices()\n"
                "I\t14:22:05.480\tServices discovered\nI\t14:22:09.100\tDisconnected\n", "ours (nRF Connect layout)"))
    return out


SDIST: Path | None = None


def _daly_x81_source() -> str | None:
    """The 0x81-protocol request -> reply table of aiobmsble's tests/bms/test_daly_bms.py, pasted as it is there."""
    if SDIST is None:
        return None
    lines = (SDIST / "tests" / "bms" / "test_daly_bms.py").read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "0x81: {")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "},")
    return "\n".join(lines[start:end + 1]) + "\n"


def _batmon_fixtures(mirror: Path) -> list[tuple[str, str, str]]:
    """Raw frames of batmon-ha's bmslib/test/data fixtures, pasted as their source shows them (comments too)."""
    import subprocess

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(mirror / "fl4p+batmon-ha" / "repo"), "show", f"HEAD:{path}"],
                              capture_output=True, text=True, check=True).stdout

    out = []
    src = show("bmslib/test/data/jbd_fixtures.py")
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else ""
            raw = next((kw.value for kw in node.value.keywords if kw.arg == "raw"), None)
            if raw is not None:
                out.append((f"batmon-ha-jbd-{name.lower().replace('_', '-')}.python.txt",
                            "raw=" + ast.get_source_segment(src, raw) + "\n", "batmon-ha"))
    src = show("bmslib/test/data/ant_fixtures.py")
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            raw = next((kw.value for kw in node.value.keywords if kw.arg == "raw"), None)
            if raw is not None:
                out.append(("batmon-ha-ant-inline-8s.python.txt", "raw=" + ast.get_source_segment(src, raw) + "\n",
                            "batmon-ha"))
    src = show("bmslib/test/data/jk_fixtures.py")
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_SYSSI_FRAME_8C_HEX":
            out.append(("batmon-ha-jk-syssi-16s.python.txt",
                        "_SYSSI_FRAME_8C_HEX = " + ast.get_source_segment(src, node.value) + "\n", "batmon-ha"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aiobmsble-sdist", type=Path, default=Path("/tmp/x/aiobmsble-0.31.0"))
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = ap.parse_args()
    global SDIST
    sdist = args.aiobmsble_sdist if args.aiobmsble_sdist.exists() else None
    SDIST = sdist
    mirror = args.mirror if args.mirror.exists() else None
    for old in HERE.glob("*.txt"):
        old.unlink()
    items = build(sdist, mirror)
    (HERE / "manifest.json").write_text(json.dumps({"items": items}, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(items)} items, {sum(1 for i in items if 'error' in i)} refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
