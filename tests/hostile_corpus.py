"""Hostile inputs of the kinds in issue 17, shared by the fuzz tests and bench/bench_hostile.py (not a test module).

Each entry is (name, bytes). They are what a careless export, a copy-paste accident or a malicious file looks like:
deep nesting, long integers, lone surrogates, duplicate keys, YAML alias and merge-key bombs, recursive anchors,
binary data, wrong encodings, and texts that make backtracking regular expressions slow.
"""

from __future__ import annotations

import codecs
import json


def _laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(levels):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int = 25) -> str:
    out = ["a0: &a0 {k: 1}"]
    for i in range(levels):
        out.append(f"a{i + 1}: &a{i + 1}\n  <<: [*a{i}]\n  x{i}: &b{i}\n    <<: *a{i}")
    return "\n".join(out) + "\n"


READINGS: list[tuple[str, bytes]] = [
    ("deep-json-list", b"[" * 6000 + b"]" * 6000),
    ("deep-json-object", b'{"a":' * 6000 + b"1" + b"}" * 6000),
    ("json-5000-digit-int", b'{"bms": "jk", "series": ' + b"9" * 5000 + b"}"),
    ("json-400-digit-cell", b'{"cells": [3.9, ' + b"1" * 400 + b"]}"),
    ("json-lone-surrogates", b'{"bms": "jk", "cells": [3.9, 3.91], "note\\ud800": "x\\udc00"}'),
    ("json-surrogate-value", b'{"bms": "\\ud800", "cells": [3.9, 3.91]}'),
    ("json-duplicate-keys", b'{"bms": "jk", "bms": "ant", "cells": [3.9, 3.91]}'),
    ("json-nan", b'{"bms": "jk", "cells": [3.9, NaN]}'),
    ("json-1e999", b'{"bms": "jk", "regen_limit": 1e999}'),
    ("json-series-true", b'{"bms": "jk", "series": true, "cells": [3.9, 3.91]}'),
    ("json-list-for-number", b'{"bms": "jk", "regen_limit": [1, 2], "soc": {"a": 1}}'),
    ("json-long-key", b'{"' + b"k" * 300_000 + b'": 1}'),
    ("json-long-value", b'{"bms": "' + b"j" * 300_000 + b'"}'),
    ("yaml-billion-laughs", _laughs().encode()),
    ("yaml-merge-bomb", _merge_bomb().encode()),
    ("yaml-recursive-alias", b"a: &a [*a]\nb: 1\n"),
    ("yaml-recursive-merge", b"a: &a\n  <<: *a\n"),
    ("yaml-deep-flow", b"[" * 20000 + b"]" * 20000),
    ("yaml-deep-block", b"- " * 5000 + b"1\n"),
    ("yaml-5000-digit-int", b"bms: jk\nseries: " + b"9" * 5000 + b"\n"),
    ("yaml-python-tag", b"!!python/object/apply:os.system ['echo pwned']\n"),
    ("utf16-bom-json", codecs.BOM_UTF16_LE + json.dumps({"bms": "jk", "cells": [3.9, 3.91]}).encode("utf-16-le")),
    ("utf16-no-bom", json.dumps({"bms": "jk", "cells": [3.9, 3.91]}).encode("utf-16-le")),
    ("latin1", "Zelle 1: 3,91 V\nTemp: 25 °C\n".encode("latin-1")),
    ("binary-random", bytes((i * 7919 + 13) % 256 for i in range(20000))),
    ("nul-bytes", b"\x00" * 1000),
    ("empty", b""),
    ("only-spaces", b"   \n\t \n"),
    ("kv-many-spaces", (b"a" + b" " * 390 + b"x\n") * 200),
    ("kv-space-dash", (b"a" + b" -" * 190 + b"\n") * 200),
    ("kv-tabs", (b"Cell voltage" + b" \t" * 190 + b"\n") * 200),
    ("batmon-unclosed-volt", b"volt=[" * 40000),
    ("batmon-unclosed-sample", b"BmsSampl(" * 40000),
    ("markdown-bullets", b"- " * 100000 + b"3.91\n"),
    ("markdown-quotes", b"> " * 100000 + b"3.91\n"),
    ("yamlish-blank-lines", b"a:" + b"\n" * 200000 + b"x"),
    ("digits-then-letter", b"1" * 200000 + b"x\n"),
    ("ansi-unclosed", b"\x1b[" + b"1;" * 100000 + b"\n"),
    ("ha-nan-cell", b"Cell voltage 1\n3.9 V\nCell voltage 2\nNaN\nCell voltage 3\n3.91 V\n"),
    ("hex-frames-random", (" ".join(f"{(i * 37) % 256:02x}" for i in range(4000))).encode()),
    ("hex-pairs", b"55 aa eb 90 " * 2000),
    ("many-cells", (", ".join(["3.91"] * 20_000)).encode()),
    ("huge-paste", b"Cell 1: 3.91 V\n" * 80_000),
]

# Things typed on the command line (flag values, answers at a prompt)
ARGUMENTS: list[str] = [
    "9" * 5000, "²", "٣", "1e999", "-0", "nan", "\udcff", "x" * 100_000, "=", "::", "a=b=c", "\t", "",
]
