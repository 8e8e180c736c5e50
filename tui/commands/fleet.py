"""`bmsdoc fleet`: the headless fleet service on an MQTT broker, and `--status` of the packs it looks after."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC
from typing import Any


def _seconds(text: str) -> float:
    try:
        v = float(text.strip().lower().removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 < v <= 10 ** 7:
        raise argparse.ArgumentTypeError(f"{text} is out of range (more than 0, at most 10000000 s)")
    return v


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of workers") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"{text} workers is out of range (1..64)")
    return n


def add_broker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--credentials", metavar="FILE", help="a YAML file with username: and password: (else the URL, "
                                                         "or BMSDOC_MQTT_USERNAME / BMSDOC_MQTT_PASSWORD)")
    p.add_argument("--tls", action="store_true", help="TLS (implied by mqtts://; default port 8883)")
    p.add_argument("--ca-file", metavar="FILE", help="CA certificate(s) to verify the broker with")
    p.add_argument("--insecure", action="store_true", help="TLS without verifying the broker's certificate")


def broker_from(args: argparse.Namespace, url: str):
    from drivers.mqtt.url import parse_url

    return parse_url(url, credentials=args.credentials, tls=args.tls or None, ca_file=args.ca_file,
                     insecure=args.insecure)


def register(sub) -> None:
    p = sub.add_parser(
        "fleet", help="diagnose many packs on an MQTT broker and publish the findings (Home Assistant)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A headless service on an MQTT broker: reads pack telemetry (bmsdoc/{pack}/reading, batmon-ha, "
                    "ESPHome and dbus-serialbattery topics; settings from --config and retained "
                    "bmsdoc/{pack}/settings), checks every pack, and publishes retained bmsdoc/{pack}/findings, "
                    "/status and /questions with Home Assistant discovery. Transitions are recorded per pack "
                    "(bmsdoc history lists them). Start several workers with the same --group to share the packs.",
        epilog="examples:\n  bmsdoc fleet --broker mqtt://homeassistant.local --config fleet.yaml\n"
               "  BMSDOC_MQTT_USERNAME=bmsdoc BMSDOC_MQTT_PASSWORD=... bmsdoc fleet --broker mqtts://broker:8883\n"
               "  bmsdoc fleet --status --broker mqtt://homeassistant.local --sort age\n"
               "  bmsdoc fleet --status --pack scooter-7")
    p.add_argument("--broker", metavar="URL", help="mqtt://[user[:password]@]HOST[:PORT] or mqtts://...")
    add_broker_options(p)
    p.add_argument("--config", metavar="FILE", help="the fleet YAML: packs, their shapes and settings, timings")
    p.add_argument("--status", action="store_true",
                   help="list the packs (from the broker's retained results with --broker, else from --db)")
    p.add_argument("--pack", metavar="NAME", help="with --status: one pack's findings, questions and history")
    p.add_argument("--sort", choices=("status", "pack", "age", "since"),
                   help="--status order: worst first (default), by name, longest unchecked, oldest finding")
    p.add_argument("--group", default="bmsdoc", metavar="NAME",
                   help="workers with the same group share the packs (MQTT 5 shared subscription; default bmsdoc)")
    p.add_argument("--worker-id", metavar="ID", help="this worker's id (default HOST-PID)")
    p.add_argument("--workers", type=_workers, default=1, metavar="N",
                   help="start N worker processes on this machine (each owns a shard of the packs)")
    p.add_argument("--no-share", action="store_true", help="read bmsdoc/+/reading without a shared subscription "
                                                           "(a broker without MQTT 5)")
    p.add_argument("--db", metavar="FILE", help="the fleet store (default: sessions.sqlite in your data directory)")
    p.add_argument("--no-record", action="store_true", help="do not record transitions in SQLite")
    p.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds (default: run until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="--status: machine-readable output")
    p.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kb.errors import UserError

    if args.status:
        return _status(args)
    if args.pack:
        raise UserError("--pack goes with --status (the service takes its packs from the broker and --config)")
    if args.sort or args.json:
        raise UserError(f"{'--sort' if args.sort else '--json'} goes with --status (the service prints a summary "
                        f"when it stops)")
    if not args.broker:
        raise UserError("give the broker: bmsdoc fleet --broker mqtt://HOST[:PORT] (or --status to list the packs)")
    broker = broker_from(args, args.broker)
    from drivers.mqtt import config as fleet_config

    cfg = fleet_config.load(args.config)
    _stop_on_sigterm()
    if args.workers > 1:
        return _spawn(args)
    import faulthandler
    import logging
    import signal

    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 PID` prints every thread's stack to stderr (a stuck worker)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bmsdoc fleet: %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    from drivers.mqtt.service import FleetService
    from kb.load import load_kb

    kb = load_kb(args.kb) if args.kb else load_kb()
    svc = FleetService(broker, cfg, kb=kb, store_path=args.db, group=args.group, worker_id=args.worker_id,
                       share=not args.no_share, record=not args.no_record)
    svc.start()
    print(f"fleet worker {svc.worker_id} on {broker.describe()} (group {args.group}); "
          f"{len(cfg.packs)} configured packs; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        svc.run_forever(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        svc.stop()
    s = svc.stats.to_json()
    print(f"{len(svc.packs)} packs, {s['messages']} messages, {s['checks']} checks, {s['transitions']} transitions, "
          f"{s['malformed']} malformed, {s['duplicates']} duplicates, {s['out_of_order']} out of order, "
          f"{s['disconnects']} broker drops", file=sys.stderr)
    return 0


def _stop_on_sigterm() -> None:
    """`kill PID`, `systemctl stop` and `docker stop` send SIGTERM: stop as Ctrl-C does (say goodbye on the broker,
    write the store, end the sessions; the workers of --workers N stop with their parent), not die mid-write."""
    import signal

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends it at once
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _spawn(args: argparse.Namespace) -> int:
    import os
    import socket
    import subprocess

    base = args.worker_id or f"{socket.gethostname()}-{os.getpid()}"
    argv = [a for a in sys.argv[1:]]
    out = []
    skip = False
    for a in argv:  # the same command line without --workers/--worker-id
        if skip:
            skip = False
            continue
        if a in ("--workers", "--worker-id"):
            skip = True
            continue
        if a.startswith(("--workers=", "--worker-id=")):
            continue
        out.append(a)
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", *out, "--worker-id", f"{base}-{i}"])
             for i in range(args.workers)]
    try:
        return max(p.wait() for p in procs)
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        return 0


def _status(args: argparse.Namespace) -> int:
    from drivers.mqtt import status
    from tui.cli import emit_json

    if args.pack:
        return _pack_detail(args)
    service: dict[str, str] = {}
    rows = status.from_broker(broker_from(args, args.broker), service=service) if args.broker else \
        status.from_store(args.db)
    rows = status.sort_rows(rows, args.sort or "status")
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("no packs yet (the fleet service publishes a pack after its first reading)")
        return 0
    now = time.time()
    print(f"{'pack':<24} {'status':<9} {'checked':>8} {'for':>8}  worst finding")
    for r in rows:
        w = r["worst"] or {}
        since = status._unix(w.get("since"))
        checked = status.age(None if r["checked"] is None else now - r["checked"])
        held = status.age(None if since is None else now - since)
        title = f"{w.get('rule')}: {w.get('title')}" if w else "-"
        more = f" (+{r['findings'] - 1} more)" if r["findings"] > 1 else ""
        print(f"{r['pack'][:24]:<24} {r['status'][:9]:<9} {checked:>8} {held:>8}  {title}{more}")
    _offline_note(service)
    return 0


def _offline_note(service: dict[str, str]) -> None:
    if service.get("availability") == "offline":  # the last worker's goodbye or last will
        print("no fleet service is running on this broker (bmsdoc/status is offline): these are the results the "
              "last one left")


def _pack_detail(args: argparse.Namespace) -> int:
    """One pack: from the broker's retained results with --broker (its history too when this machine's store has
    it), else from the store."""
    from datetime import datetime

    from drivers import record
    from drivers.mqtt import status, store
    from kb.errors import UserError
    from tui.cli import emit_json

    h: dict[str, Any] | None = None
    service: dict[str, str] = {}
    if args.broker:
        broker = broker_from(args, args.broker)
        p = status.pack_from_broker(broker, args.pack, service)
        if p is None:
            raise UserError(f"the broker at {broker.describe()} has no results for pack '{args.pack}' "
                            "(bmsdoc fleet --status --broker URL lists the packs it has)")
        try:
            h = store.history(args.pack, args.db)
            p["session"] = h["session"]
        except UserError:
            h = None  # the service records on the machine it runs on
    else:
        rows = {p["pack"]: p for p in store.packs(args.db)}
        if args.pack not in rows:
            raise UserError(f"no fleet pack '{args.pack}' in {args.db or record.default_path()} "
                            f"(bmsdoc fleet --status lists them; --broker URL reads the broker's results)")
        p = rows[args.pack]
        h = store.history(args.pack, args.db)
    if args.json:
        emit_json({**p, "history": h})
        return 0

    def at(t: Any) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") if t else "-"

    where = f"history: bmsdoc history {p['session']}" if p["session"] is not None else \
        f"no history in {args.db or record.default_path()}: give the service's --db, or look where it runs"
    checked = f"checked {at(p['checked'])} UTC" if p["checked"] else "not checked yet"
    print(f"{args.pack}: {p['status'][:40]} ({checked}; {where})")
    _offline_note(service)
    for f in p["findings"]:
        cites = f.get("citations") if isinstance(f.get("citations"), list) else []
        print(f"  {str(f.get('severity', '?')).upper():<8} {f.get('rule')}: {f.get('message')} "
              f"[{', '.join(map(str, cites))}] since {f.get('since', '?')}")
    for q in p["questions"][:5]:
        if isinstance(q, dict):
            print(f"  ? {q.get('ask')}")
    if h is None:
        return 0
    for f in h["findings"]:
        end = f"cleared {at(f['cleared'])}" if f["cleared"] else "still active"
        print(f"  [{at(f['time'])}] {f['severity'] or '?':<8} {f['rule']} ({end})")
    for e in h["events"]:
        print(f"  [{at(e['time'])}] {e['kind']} {e['detail'] or ''}".rstrip())
    return 0
