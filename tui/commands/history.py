"""`bmsdoc history`: list recorded sessions, or export one to CSV or JSON."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("history", help="list recorded live sessions, or export one (CSV/JSON)",
                       description="List the sessions recorded by `bmsdoc watch --record` (newest first), or "
                                   "export one: FILE.csv has one row per reading with the findings active then; "
                                   "FILE.json has the readings, findings and connection events.")
    p.add_argument("session", nargs="?", type=int, metavar="SESSION", help="a session id from the list")
    p.add_argument("--db", metavar="FILE", help="the recording database (default: sessions.sqlite in your data "
                                                "directory); opened read-only, and refused unless bmsdoc wrote it")
    p.add_argument("--export", metavar="FILE", help="write SESSION to FILE.csv or FILE.json (atomically; never over "
                                                    "the recording itself)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers import record
    from kb.errors import UserError
    from tui.cli import emit_json

    if args.export and args.session is None:
        raise UserError("--export needs a SESSION id (bmsdoc history lists them)")
    if args.session is not None:
        if args.export:
            n = record.export(args.session, args.export, args.db)
            print(f"session {args.session}: {n} readings written to {args.export}")
            return 0
        s = record.load(args.session, args.db)
        if args.json:
            emit_json(s.to_json())
            return 0
        _print_session(s)
        return 0
    if args.db is None and not record.default_path().exists():
        infos = []  # nothing recorded yet on this machine: not an error
    else:
        infos = record.sessions(args.db)
    if args.json:
        emit_json([i.to_json() for i in infos])
        return 0
    if not infos:
        print("no recorded sessions yet (record one with: bmsdoc watch --demo --record)")
        return 0
    print(f"{'id':>4}  {'started (UTC)':<25} {'source':<34} {'readings':>8} {'length':>8}  worst")
    for i in infos:
        state = "" if i.ended else "  (interrupted)"
        print(f"{i.id:>4}  {i.started:<25} {i.source[:34]:<34} {i.readings:>8} {i.duration:>7.1f}s  "
              f"{i.worst or '-'}{state}")
    return 0


def _print_session(s) -> None:
    i = s.info
    print(f"session {i.id}: {i.source}, started {i.started}" + ("" if i.ended else " (interrupted)"))
    print(f"knowledge base {i.kb_version or '?'}, {i.readings} readings over {i.duration:.1f} s")
    for e in s.events:
        print(f"[{e['t']:7.1f} s] {e['kind']} {e['detail'] or ''}".rstrip())
    for f in s.findings:
        end = f"cleared at {f['cleared']:.1f} s" if f["cleared"] is not None else "active at the end"
        print(f"[{f['t']:7.1f} s] {f['severity'].upper():<8} {f['rule']} ({end})")
