"""`bmsdoc watch`: stream a BMS over Bluetooth (or the virtual BMS with --demo), check every reading, print the
findings as they change, and optionally record the session."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from drivers.sim.scenarios import DEFAULT_SCENARIO, SCENARIOS
from tui.commands import argtypes

FAMILIES = ("jk", "jbd", "ant", "daly")


def _positive(kind: str, lo: float, hi: float):
    def parse(text: str) -> float:
        t = text.strip().lower()
        for unit in ("hz", "s", "a", "x"):
            t = t.removesuffix(unit)
        try:
            v = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range for {kind} ({lo:g}..{hi:g})")
        return v
    return parse


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not FIELD=VALUE (e.g. cell_ovp=4.25)")
    return key.strip(), value.strip()


def register(sub) -> None:
    import textwrap

    scen = "\n".join(textwrap.fill(f"{n}: {s.description}", 78, initial_indent="  ", subsequent_indent="      ")
                     for n, s in SCENARIOS.items())
    intro = textwrap.fill(
        "Poll a BMS over Bluetooth LE with aiobmsble, check every reading against the knowledge base and print "
        "findings as they appear and clear. Reconnects with backoff after drops. With --demo, a virtual BMS plays a "
        "scripted scenario as real JK/JBD/ANT/Daly frames through the same decoders.", 78)
    p = sub.add_parser(
        "watch", help="stream a BMS over Bluetooth (or the virtual BMS) and print findings as they change",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"{intro}\n\nDemo scenarios (13S Li-ion scooter pack):\n{scen}",
        epilog=textwrap.fill(
            "Settings the BMS does not report over BLE (series, regen limit, protection settings) come from you: "
            "--series, --regen-limit, --set FIELD=VALUE.", 78)
        + "\n\nexamples:\n  bmsdoc watch --demo regen-charge-fet-off --family ant\n"
          "  bmsdoc watch C8:47:8C:10:20:30 --series 13 --regen-limit 30 --record ride.sqlite")
    p.add_argument("address", nargs="?", type=argtypes.bluetooth_address, metavar="ADDRESS", help="Bluetooth address of the BMS (see bmsdoc scan)")
    p.add_argument("--demo", nargs="?", const=DEFAULT_SCENARIO, choices=list(SCENARIOS), metavar="SCENARIO",
                   help=f"the virtual BMS instead of a real one; SCENARIO is one of {', '.join(SCENARIOS)} "
                        f"(default {DEFAULT_SCENARIO})")
    p.add_argument("--family", choices=FAMILIES, help="BMS family (a real BMS: else identified from its "
                                                      "advertisement; --demo: the protocol to speak, default jk)")
    p.add_argument("--series", type=argtypes.series, metavar="N", help="configured series count")
    p.add_argument("--regen-limit", type=_positive("a current in amps", 0, 2000), metavar="A",
                   help="the controller's battery regen current limit (magnitude)")
    p.add_argument("--set", type=_setting, action="append", default=[], metavar="FIELD=VALUE",
                   help="another setting or context field (cell_ovp=4.25, charge_ocp=30, chemistry=lifepo4, ...)")
    p.add_argument("--interval", type=_positive("a number of seconds", 0.05, 3600), default=1.0, metavar="S",
                   help="seconds between polls of a real BMS (default 1)")
    p.add_argument("--rate", type=_positive("a rate in Hz", 0.01, 100), default=10.0, metavar="HZ",
                   help="--demo: readings per second (default 10)")
    p.add_argument("--speed", type=_positive("a speed-up factor", 0.01, 1000), default=1.0, metavar="X",
                   help="--demo: scenario seconds per second (default 1)")
    p.add_argument("--fast", action="store_true", help="--demo: run through the scenario without waiting")
    p.add_argument("--duration", type=_positive("a number of seconds", 0.1, 10 ** 7), metavar="S",
                   help="stop after S seconds (--demo: scenario seconds; default: the scenario's length)")
    p.add_argument("--record", nargs="?", const="", metavar="FILE",
                   help="record the session to SQLite (FILE, or sessions.sqlite in your data directory)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"t", "event", "seq", "reading", "findings"}')
    p.add_argument("--mqtt", metavar="URL", help="also publish every reading to bmsdoc/{pack}/reading on this broker "
                                                 "(mqtt://HOST[:PORT]; for bmsdoc fleet)")
    p.add_argument("--pack", metavar="NAME", help="--mqtt: the pack's name in the topic (default: the address, or "
                                                  "demo-SCENARIO)")
    from tui.commands.fleet import add_broker_options

    add_broker_options(p)  # --credentials, --tls, --ca-file, --insecure: the same broker options as bmsdoc fleet
    p.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)  # another content root (tests, reviews)
    p.set_defaults(func=run)


def _context(args: argparse.Namespace) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for key, value in args.set:
        ctx[key] = value
    if args.series is not None:
        ctx["series"] = args.series
    if args.regen_limit is not None:
        ctx["regen_limit"] = args.regen_limit
    return ctx


def run(args: argparse.Namespace) -> int:
    import asyncio

    from kb.errors import UserError

    if args.demo and args.address:
        raise UserError("give an ADDRESS or --demo, not both")
    if not args.demo and not args.address:
        raise UserError("give the BMS's Bluetooth ADDRESS (find it with: bmsdoc scan), or --demo for the virtual BMS")
    from drivers.ble import canonical_context
    from drivers.live import BleSource, DemoSource
    from kb.load import load_kb

    ctx = _context(args)
    canonical_context(ctx)  # a bad --set is a one-line error before anything connects
    kb = load_kb(args.kb) if args.kb else load_kb()
    if args.demo:
        source: Any = DemoSource(scenario=args.demo, family=args.family or "jk", rate=args.rate, speed=args.speed,
                                 duration=args.duration, realtime=not args.fast, context=ctx)
    else:
        source = BleSource(address=args.address, family=args.family, context=ctx, interval=args.interval,
                           duration=args.duration)
    import logging

    # the stream reports failures as events; aiobmsble's own error lines would only repeat them on stderr
    logging.getLogger("aiobmsble").setLevel(logging.CRITICAL)
    logging.getLogger("bleak_retry_connector").setLevel(logging.CRITICAL)
    args.publisher = _mqtt_publisher(args)
    if args.publisher is not None:  # on stderr: --json keeps stdout to the readings
        print(f"publishing every reading to {args.publisher.topic} on {args.publisher.broker.describe()}",
              file=sys.stderr, flush=True)
    try:
        return asyncio.run(_watch(source, args, kb))
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    finally:
        if args.publisher is not None:
            left = args.publisher.close()
            if left:
                print(f"{left} readings did not reach the broker before the end", file=sys.stderr)
            else:
                print(f"{args.publisher.sent} readings published to {args.publisher.topic}", file=sys.stderr)


def _mqtt_publisher(args: argparse.Namespace) -> Any:
    """`--mqtt URL [--pack NAME]`: a drivers.mqtt publisher (connected now: a bad broker is a one-line error)."""
    from kb.errors import UserError

    if args.mqtt is None:
        given = [o for o, v in (("--pack", args.pack), ("--credentials", args.credentials), ("--tls", args.tls),
                                ("--ca-file", args.ca_file), ("--insecure", args.insecure)) if v]
        if given:
            raise UserError(f"{given[0]} " + ("names the pack" if given[0] == "--pack" else "is a broker option")
                            + " for --mqtt; give --mqtt URL too")
        return None
    from drivers.mqtt.publisher import ReadingPublisher, pack_name
    from tui.commands.fleet import broker_from

    name = args.pack or pack_name(f"demo-{args.demo}" if args.demo else args.address)
    return ReadingPublisher(broker_from(args, args.mqtt), name)


class _Printer:
    """Text output: status lines, the first reading in brief, findings as they appear and clear."""

    def __init__(self) -> None:
        self.shown_first = False

    @staticmethod
    def stamp(t: float) -> str:
        return f"[{t:7.1f} s]"

    def status(self, ev: Any) -> None:
        what = {"connected": "connected to", "disconnected": "disconnected:", "reconnecting": "reconnecting",
                "error": "error:" if ev.fatal else "skipped:", "ended": "ended:"}.get(ev.kind, ev.kind)
        attempt = f" (attempt {ev.attempt})" if ev.attempt else ""
        print(f"{self.stamp(ev.t)} {what} {ev.detail}{attempt}".rstrip(), flush=True)

    def first(self, ev: Any) -> None:
        if self.shown_first:
            return
        self.shown_first = True
        r = ev.reading
        bits = []
        if r.cells:
            bits.append(f"{len(r.cells)} cells {min(r.cells):.3f}-{max(r.cells):.3f} V")
        if r.pack_voltage is not None:
            bits.append(f"{r.pack_voltage:.2f} V")
        if r.current is not None:
            bits.append(f"{r.current:+.1f} A")
        if r.soc is not None:
            bits.append(f"{r.soc:.0f} %")
        print(f"{self.stamp(ev.t)} first reading: {', '.join(bits) or 'no measurements'}", flush=True)
        for note in ev.notes:
            print(f"{self.stamp(ev.t)} note: {note}")

    def changes(self, t: float, raised: list[Any], cleared: list[str]) -> None:
        for f in raised:
            cites = ", ".join(f.citations)
            print(f"{self.stamp(t)} + {f.severity.upper():<8} {f.rule}: {f.message} [{cites}]", flush=True)
        for rule in cleared:
            print(f"{self.stamp(t)} - cleared  {rule}", flush=True)


class _Changes:
    """Which findings appeared or cleared since the previous reading (a severity change counts as appearing)."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}

    def update(self, findings: list[Any]) -> tuple[list[Any], list[str]]:
        now = {f.rule: f for f in findings}
        raised = [f for r, f in now.items() if self.active.get(r) != f.severity]
        cleared = [r for r in self.active if r not in now]
        self.active = {r: f.severity for r, f in now.items()}
        return raised, cleared


async def _watch(source: Any, args: argparse.Namespace, kb: Any) -> int:
    import json
    from contextlib import aclosing

    from drivers.ble import WatchStats
    from drivers.live import stream
    from engine.check import check

    stats = WatchStats()
    printer = _Printer()
    changes = _Changes()
    recorder = None
    if args.record is not None:
        from drivers.record import Recorder

        recorder = Recorder(args.record or None)
        recorder.start(source.describe(), family=getattr(source, "family", None), kb_version=kb.kb_version,
                       context=_context(args) if not args.demo else _demo_context(args))
    fatal = ""
    try:
        async with aclosing(stream(source, stats=stats)) as events:
            async for ev in events:
                if ev.kind == "reading":
                    findings = check(ev.reading, kb).root_findings()  # one story per root cause
                    raised, cleared = changes.update(findings)
                    if recorder is not None:
                        recorder.add_live_event(ev, findings)
                    if getattr(args, "publisher", None) is not None:
                        args.publisher.publish(ev.seq, ev.t, ev.reading)
                    if args.json:
                        line = ev.to_json()
                        line["findings"] = [f.to_json() for f in findings]
                        print(json.dumps(line, ensure_ascii=False, default=str), flush=True)
                    else:
                        printer.first(ev)
                        printer.changes(ev.t, raised, cleared)
                    continue
                if recorder is not None:
                    recorder.add_live_event(ev)
                if args.json:
                    print(json.dumps(ev.to_json(), ensure_ascii=False), flush=True)
                elif not (ev.kind == "error" and ev.fatal):
                    printer.status(ev)
                if ev.kind == "error" and ev.fatal:
                    fatal = ev.detail
                    break
    finally:
        if recorder is not None:
            recorder.close()
    if not args.json and (stats.readings or not fatal):
        active = ", ".join(f"{r} ({s})" for r, s in changes.active.items()) or "none"
        print(f"{stats.readings} readings, {stats.failed_polls} skipped polls, {stats.rejected} rejected samples, "
              f"{stats.drops} drops; findings active at the end: {active}")
        if recorder is not None:
            print(f"recorded as session {recorder.session} in {recorder.path}")
    if fatal:
        from kb.errors import UserError

        raise UserError(fatal)
    return 0


def _demo_context(args: argparse.Namespace) -> dict[str, Any]:
    return {**SCENARIOS[args.demo].context, **_context(args)}
