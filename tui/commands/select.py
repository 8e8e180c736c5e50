"""`bmsdoc select`: rank the BMS families for a pack's needs."""

from __future__ import annotations

import argparse

from tui.commands import argtypes

SPACES = ("none", "cramped", "normal", "roomy")


def register(sub) -> None:
    p = sub.add_parser("select", help="rank the BMS families for a pack's needs",
                       description="Rank JK, ANT, JBD/LLT, Daly and charge-only + active balancer for a pack, "
                                   "with a verdict, reasons and pitfalls, each citing the handbook.")
    p.add_argument("--series", type=argtypes.series, required=True, help="series count (e.g. 20 or 20S)")
    p.add_argument("--continuous", type=argtypes.amps, required=True, metavar="A", help="continuous discharge current")
    p.add_argument("--peak", type=argtypes.amps, metavar="A", help="peak discharge current")
    p.add_argument("--regen", type=argtypes.amps, metavar="A", help="regen (braking) current into the pack")
    p.add_argument("--space", choices=SPACES, help="room in the deck (none = no room for a discharge-FET board)")
    p.add_argument("--uptime", choices=("critical", "normal"), help="how bad a cut-out would be")
    p.add_argument("--budget", choices=("low", "normal", "high"))
    p.add_argument("--full-protection", action="store_true", default=None,
                   help="full protection (a BMS that can open the discharge path) is mandatory")
    p.add_argument("--integration", choices=("none", "vesc-can"), help="wanted controller integration")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.select import Needs, select
    from tui.cli import emit_json

    needs = Needs(series=args.series, continuous=args.continuous, peak=args.peak, regen=args.regen, space=args.space,
                  uptime=args.uptime, budget=args.budget, full_protection=args.full_protection,
                  integration=args.integration)
    result = select(needs)
    if args.json:
        emit_json(result.to_json())
        return 0
    given = ", ".join(f"{k} {v}" for k, v in result.needs.items())
    print(f"BMS families for: {given}  (knowledge base {result.kb_version})\n")
    for i, r in enumerate(result.ranking, 1):
        print(f"{i}. {r.name} — {r.verdict.upper()} (score {r.score})")
        for p in r.reasons:
            print(f"   + {p.text} {_cites(p.citations)}")
        for p in r.pitfalls:
            print(f"   - {p.text} {_cites(p.citations)}")
        print()
    return 0


def _cites(labels: list[str]) -> str:
    return "".join(f"[^{c}]" for c in labels)
