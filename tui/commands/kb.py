"""`bmsdoc kb ...`: validate, test, cover, diff and release the knowledge base in content/."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("kb", help="validate, test and compare the knowledge base (content/)",
                       description="Maintain the knowledge base: the versioned YAML in content/.")
    ksub = p.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True, parser_class=type(p))

    v = ksub.add_parser("validate", help="check every file; report each problem as file:line:col")
    v.add_argument("dir", nargs="?", help="content directory (default: the built-in content/)")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(func=run_validate)

    t = ksub.add_parser("test", help="run every rule's inline tests (and flow answer scripts)")
    t.add_argument("dir", nargs="?", help="content directory (default: the built-in content/)")
    t.add_argument("--engine", choices=["evaluator", "durable", "both"], default="both",
                   help="which engine runs the tests (default: both, and they must agree)")
    t.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    t.add_argument("--mutate", action="store_true",
                   help="also move every number of every condition 5%% up and down and list the changes no inline "
                        "test notices (an unguarded threshold); exits 1 if there is one")
    t.set_defaults(func=run_test)

    c = ksub.add_parser("coverage", help="which KB items cite each footnote, per handbook section")
    c.add_argument("dir", nargs="?", help="content directory (default: the built-in content/)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(func=run_coverage)

    d = ksub.add_parser("diff", help="added, removed and changed items between two KB versions, and the bump they need",
                        description="Compare two knowledge bases. Exits 1 when NEW's kb_version is not bumped enough "
                                    "for the change (major: a rule's logic changed or an item was removed; minor: "
                                    "items added; patch: text only).")
    d.add_argument("old_dir")
    d.add_argument("new_dir")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=run_diff)

    r = ksub.add_parser("release", help="record the current rules as released (content/released.yaml)")
    r.add_argument("dir", nargs="?", help="content directory (default: the built-in content/)")
    r.set_defaults(func=run_release)


def _load(d):
    from kb.load import load_kb

    return load_kb(d, use_cache=d is None)


def run_validate(args: argparse.Namespace) -> int:
    from kb.errors import KBInvalid
    from tui.cli import emit_json

    try:
        kb = _load(args.dir)
    except KBInvalid as e:
        if args.json:
            emit_json({"ok": False, "problems": [p.__dict__ for p in e.problems]})
        else:
            for p in e.problems:
                print(p)
            print(f"{len(e.problems)} problem(s)", file=sys.stderr)
        return 1
    counts = {"rules": len(kb.rules), "families": len(kb.families), "guide_entries": len(kb.guides),
              "sources": len(kb.sources)}
    for name, n in kb.counts.items():
        counts[name] = n
    if args.json:
        emit_json({"ok": True, "kb_version": kb.kb_version, "counts": counts, "problems": []})
    else:
        print(f"knowledge base {kb.kb_version} is valid: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()))
    return 0


def run_test(args: argparse.Namespace) -> int:
    from engine.kbtest import TestResult, run_all
    from tui.cli import emit_json

    kb = _load(args.dir)
    engines = ["evaluator", "durable"] if args.engine == "both" else [args.engine]
    runs = {e: run_all(kb, e) for e in engines}
    results = list(runs[engines[0]].results)
    if len(engines) == 2:  # both engines must agree on every rule test
        for a, b in zip(runs["evaluator"].results, runs["durable"].results):
            if a.passed != b.passed:
                results.append(TestResult(a.kind, a.item, a.name, False,
                                          f"engines disagree: evaluator {'passed' if a.passed else 'failed'}, "
                                          f"durable-rules {'passed' if b.passed else 'failed'}", a.where))
    failed = [r for r in results if not r.passed]
    tried, survivors = (0, [])
    if getattr(args, "mutate", False):
        from engine.kbtest import run_mutations

        tried, survivors = run_mutations(kb)
    if args.json:
        emit_json({"kb_version": kb.kb_version, "engines": engines, "passed": len(results) - len(failed),
                   "failed": len(failed), "results": [r.__dict__ for r in results],
                   **({"mutants": tried, "survivors": [s.__dict__ for s in survivors]} if args.mutate else {})})
    else:
        for r in results:
            if not r.passed:
                print(f"FAIL {r.kind} {r.item} :: {r.name}  ({r.where})\n     {r.detail}")
            elif args.verbose:
                print(f"ok   {r.kind} {r.item} :: {r.name}")
        items = len({(r.kind, r.item) for r in results})
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed ({len(results)} tests of {items} items; "
              f"engines: {', '.join(engines)})")
        if args.mutate:
            for sv in survivors:
                print(f"UNGUARDED {sv.rule}: {sv.literal:g} -> {sv.mutated:g} changes no test's outcome  ({sv.where})")
            print(f"mutation: {tried} mutants, {tried - len(survivors)} noticed, {len(survivors)} unguarded")
    return 1 if failed or survivors else 0


def run_coverage(args: argparse.Namespace) -> int:
    from kb.coverage import coverage
    from tui.cli import emit_json

    kb = _load(args.dir)
    cov = coverage(kb)
    if args.json:
        emit_json(cov)
        return 0
    print(f"Knowledge base {cov['kb_version']}: {cov['totals']['items']} items cite "
          f"{cov['totals']['footnotes_cited']} of {cov['totals']['footnotes']} footnotes\n")
    for s in cov["sections"]:
        kinds: dict[str, int] = {}
        for it in s["items"]:
            k = it.split(":", 1)[0]
            kinds[k] = kinds.get(k, 0) + 1
        summary = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(kinds.items())) or "NO ITEMS"
        print(f"{s['title']} [{s['id']}]: {summary}")
        print(f"  cites: {' '.join('[^' + x + ']' for x in s['footnotes_cited']) or '-'}")
        if s["footnotes_uncited_here"]:
            print(f"  footnotes of this section cited only elsewhere: {' '.join(s['footnotes_uncited_here'])}")
    print()
    width = max(len(f["label"]) for f in cov["footnotes"]) + 4
    for f in cov["footnotes"]:
        who = f["cited_by"]
        print(f"[^{f['label']}]".ljust(width) + (f"{len(who):3d}  " + ", ".join(who[:4]) + (" ..." if len(who) > 4 else "")
                                                  if who else "  0  NOT CITED"))
    if cov["uncited_footnotes"]:
        print(f"\nfootnotes cited by nothing: {', '.join(cov['uncited_footnotes'])}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from kb.diff import diff
    from tui.cli import emit_json

    old, new = _load(args.old_dir), _load(args.new_dir)
    d = diff(old, new)
    # exit 1 when the new kb_version does not carry the bump the change needs, so CI can gate on it
    code = 0 if d["version_ok"] else 1
    if args.json:
        emit_json(d)
        return code
    print(f"{d['old_version']} -> {d['new_version']}: {d['bump']} change"
          + ("" if d["version_ok"] else " (the new kb_version is not bumped enough)"))
    for k in d["added"]:
        print(f"  + {k}")
    for k in d["removed"]:
        print(f"  - {k}")
    for c in d["changed"]:
        print(f"  ~ {c['item']} ({c['change']}: {', '.join(c['fields'])})")
    return code


def run_release(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ruamel.yaml import YAML

    from kb.load import CONTENT_DIR
    from kb.validate import RELEASED_FILE, release_snapshot

    kb = _load(args.dir)
    root = Path(args.dir) if args.dir else CONTENT_DIR
    snap = release_snapshot(kb)
    y = YAML()
    with (root / RELEASED_FILE).open("w", encoding="utf-8") as f:
        f.write("# What each rule's logic looked like at the last release, written by `bmsdoc kb release`.\n"
                "# Validation fails when a rule's condition, scope or severity changes without a version bump.\n")
        y.dump(snap, f)
    print(f"recorded {len(snap['rules'])} rules as released in knowledge base {snap['kb_version']}")
    return 0
