"""Bytes out of the ways people paste BLE traffic, and whole frames out of the bytes.

Layouts read: spaced / colon / dash / dotted hex (`55.AA.EB.90 ... (128)`, ESPHome's format_hex_pretty with its
length), compact hex, `0x` bytes, hexdumps with offsets (`hexdump -C`, `xxd`, `0000: ...`: the offsets and the
ASCII column are not bytes), Python `b'\\xdd...'` / `bytearray(b'...')` literals (implicitly joined ones are one
frame), sniffer and nRF Connect logs (timestamps, MAC addresses and UUIDs are not bytes), `>>> request` /
`<<< reply` logs, and several frames on one line. Requests (what the app or the tool wrote) are dropped.

Lines become a byte stream; `segment` cuts it into frames by each protocol's own header and length rule, so a
frame split over 20-byte notifications, a whole log on one line and a hexdump all give the same frames. Nothing
here decodes a frame: that is aiobmsble's job (drivers/paste/frames.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from drivers.paste.text import clean_text

# ---------------------------------------------------------------------------- what is not bytes

_TIME = re.compile(r"(?<![\w:.])\d{1,2}:\d\d:\d\d(?:[.,]\d{1,6})?(?![\w:.])")
_DATE = re.compile(r"(?<![\w-])\d{4}-\d\d-\d\d(?![\w-])")
_UUID = re.compile(r"(?<![\w-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])")
_MAC = re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?![\w:-])")
_LENGTH = re.compile(r"\(\s*\d{1,4}\s*(?:bytes?|b)?\s*\)\s*$", re.IGNORECASE)  # ESPHome's `(128)`
_OD_COL = re.compile(r">[^<>]*<\s*$")
_DUMP_GROUP = re.compile(r"(?:[0-9A-Fa-f]{2}){1,2}")
_ASCII_COL = re.compile(r"\|[^|]*\|\s*$")  # hexdump -C
_AFTER_VALUE = re.compile(r"(?:value|data|payload|notification|rx|bytes)[^:=]{0,40}[:=]\s*(?:\(0x\)\s*)?(.*)$",
                          re.IGNORECASE)
_NRF_LINES = re.compile(r"^[VDIAWE]\t\d{1,2}:\d{2}:\d{2}", re.MULTILINE)
_REQUEST = re.compile(r">>>|->|=>|\bTX\b|\bwrit(?:e|ing|ten)\b|\bwrote\b|\bsen[dt]\b|\brequest\b|\bcmd\b",
                      re.IGNORECASE)
_REPLY = re.compile(r"<<<|<-|<=|\bRX\b|notif|\breceived\b|\brecv\b|\breply\b|\bresponse\b|\bvalue\b", re.IGNORECASE)
_SPLIT = re.compile(r"[^0-9A-Za-z]+")
# a run of single bytes (`dd 03 00`, `DD-03`, `dd:03`, `55.AA`) or one compact group (`dd03001d`); separators and
# hex digits are disjoint classes, so matching is linear (the old `_HEX_RUN` nested two overlapping quantifiers)
_RUN = re.compile(r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{2}(?:[^0-9A-Za-z\n]+[0-9A-Fa-f]{2}(?![0-9A-Za-z]))*"
                  r"|(?:[0-9A-Fa-f]{2}){2,})(?![0-9A-Za-z])")
_NONHEX = re.compile(r"[^0-9A-Fa-f]+")
_QUOTED_HEX = re.compile(r"""["']((?:[0-9A-Fa-f]{2}[ :]?)+)["']""")
_ZEROX = re.compile(r"(?<![0-9A-Za-z])0[xX](?=[0-9A-Fa-f]{2})")
_HEX = re.compile(r"[0-9a-fA-F]+")
_OFFSET = re.compile(r"^\s*(?:0x)?([0-9a-fA-F]{4,8})(:?)\s+\S")
# a Python bytes literal; the two alternatives are disjoint, so matching is linear
_BYTES_LIT = re.compile(r"""\bb'((?:[^'\\\n]|\\.)*)'|\bb"((?:[^"\\\n]|\\.)*)\"""")
_ESCAPES = {"n": 10, "r": 13, "t": 9, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, "'": 39, '"': 34}


def _literal_bytes(body: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x" and i + 3 < len(body) + 1 and _HEX.fullmatch(body[i + 2:i + 4] or "-"):
                out.append(int(body[i + 2:i + 4], 16))
                i += 4
                continue
            if nxt in "01234567" and re.fullmatch(r"[0-7]{3}", body[i + 1:i + 4]):
                out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
        out.append(ord(ch) & 0xFF)
        i += 1
    return bytes(out)


def _python_literals(text: str) -> str:
    """Replace each (implicitly joined) group of bytes literals by one line of hex."""
    pieces: list[str] = []
    last = 0
    group = bytearray()
    group_start = group_end = 0
    for m in _BYTES_LIT.finditer(text):
        between = text[group_end:m.start()]
        if group and between.strip(" \t\n\r"):
            pieces.append(text[last:group_start] + "\n" + group.hex(" ") + "\n")
            last = group_end
            group = bytearray()
        if not group:
            group_start = m.start()
        group.extend(_literal_bytes(m.group(1) if m.group(1) is not None else m.group(2)))
        group_end = m.end()
    if group:
        pieces.append(text[last:group_start] + "\n" + group.hex(" ") + "\n")
        last = group_end
    pieces.append(text[last:])
    return "".join(pieces)


# ---------------------------------------------------------------------------- lines -> bytes


@dataclass
class Extracted:
    chunks: list[bytes] = field(default_factory=list)  # reply-side bytes, one per line
    requests: int = 0  # lines marked as written by the app / tool
    nrf_lines: int = 0
    dump_lines: int = 0
    literals: bool = False


def _runs(tokens: list[str], dump: bool) -> list[bytes]:
    """Runs of byte tokens. Single bytes (`dd 03`) and compact groups (`dd03001d`) never mix in one run, so a
    handle or short UUID beside the bytes (`notify ffe1  dd 03 ...`) stays out of them; a dump line's groups
    (xxd's `dd03 001d`) are the exception."""
    runs: list[bytes] = []
    cur = bytearray()
    kind = 0  # 1: single bytes, 2: compact groups
    for t in tokens:
        if t.lower().startswith("0x") and len(t) > 2:
            t = t[2:]
        ok = bool(_HEX.fullmatch(t)) and len(t) % 2 == 0
        if ok and dump and len(t) > 4:
            ok = False  # an ASCII column word, not a group of a dump line
        this = 1 if len(t) == 2 or dump else 2
        if ok and cur and this != kind:
            runs.append(bytes(cur))
            cur = bytearray()
        if ok:
            cur.extend(bytes.fromhex(t))
            kind = this
        else:
            if cur:
                runs.append(bytes(cur))
            cur = bytearray()
            if dump:
                break  # the ASCII column starts
    if cur:
        runs.append(bytes(cur))
    return runs


_SEPS = str.maketrans({c: " " for c in ":-.,;|_/\t"})
_REQUEST_HINTS = (">>>", "->", "=>", "tx", "writ", "wrote", "sen", "request", "cmd")
_VALUE_HINTS = ("value", "data", "payload", "notification", "rx", "bytes")


def _hex_bytes(run: str) -> bytes:
    try:
        return bytes.fromhex(run.translate(_SEPS))
    except ValueError:
        return bytes.fromhex(_NONHEX.sub("", run))


def _line_runs(body: str) -> tuple[list[bytes], bool]:
    """(byte runs, pure) of a line that is no dump line; pure: nothing but the runs on it."""
    matches = list(_RUN.finditer(body))
    runs = [_hex_bytes(m.group(0)) for m in matches]
    pure = False
    if len(matches) == 1:
        m = matches[0]
        rest = body[:m.start()] + body[m.end():]
        pure = not any(ch.isalnum() for ch in rest)
    elif matches and len(runs[-1]) < 4:
        # the short tail of a frame ends its line (`notify ffe1  ff 0b 4e`): kept when it is single bytes with
        # nothing after it; a handle or UUID (`ffe1`, one compact group) is not
        m = matches[-1]
        tail = m.group(0)
        if (len(tail) == 2 or not _HEX.fullmatch(tail)) and not any(ch.isalnum() for ch in body[m.end():]):
            runs = [r for r in runs[:-1] if len(r) >= 4] + [runs[-1]]
            return runs, True
    return runs, pure


_PREFIX = 96  # timestamps, addresses and UUIDs lead a log line; the bytes come after them


def _not_bytes(line: str) -> str:
    """A line without what is never bytes (times, dates, MAC addresses, UUIDs), looked for where logs put them:
    before the payload marker (`value:`), else in the line's first characters."""
    m = _AFTER_VALUE.search(line) if len(line) > _PREFIX and "alue" in line else None
    cut = m.start(1) if m else min(len(line), _PREFIX)
    head = line[:cut]
    if ":" in head:
        head = _TIME.sub(" ", _MAC.sub(" ", head))
    if "-" in head:
        head = _DATE.sub(" ", _UUID.sub(" ", head))
    return head + line[cut:]


def extract(text: str) -> Extracted:
    out = Extracted()
    text = clean_text(text)
    if "b'" in text or 'b"' in text:
        converted = _python_literals(text)
        out.literals = converted != text
        text = converted
    out.nrf_lines = len(_NRF_LINES.findall(text))
    if "0x" in text or "0X" in text:
        text = _ZEROX.sub("", text)
    dump_count = 0  # bytes read so far from hexdump lines (offsets must follow it)
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        line = _not_bytes(line)
        low = line.lower()
        if any(h in low for h in _REQUEST_HINTS) and _REQUEST.search(line) and not _REPLY.search(line):
            if any(len(r) >= 4 for r in _line_runs(line)[0]):
                out.requests += 1
            continue
        quoted = _QUOTED_HEX.findall(line) if ('"' in line or "'" in line) else []
        if quoted:  # source code: `"dd03001d"  # SOF, fn=0x03` -> only the string is bytes, not the comment
            data = b"".join(_hex_bytes(q) for q in quoted)
            if data:
                out.chunks.append(data)
            continue
        payload = _AFTER_VALUE.search(line) if any(h in low for h in _VALUE_HINTS) else None
        body = payload.group(1) if payload else line
        if body.endswith(")"):
            body = _LENGTH.sub(" ", body)
        dump = False
        m = _OFFSET.match(body) if not payload and body[:1].isalnum() else None
        if m:
            value = int(m.group(1), 16)
            if m.group(2) == ":" or value == dump_count or (value == 0 and len(m.group(1)) >= 4):
                if value == 0:
                    dump_count = 0
                body = body[m.end() - 1:]
                body = _ASCII_COL.sub(" ", body)  # hexdump -C's |...| column
                body = _OD_COL.sub(" ", body)  # od -z's >...< column
                dump = True
        if dump:  # the groups up to the first word that is not one (xxd, Wireshark: the ASCII column)
            groups = []
            for t in body.split():
                if not _DUMP_GROUP.fullmatch(t):
                    break
                groups.append(t)
            runs = [bytes.fromhex("".join(groups))] if groups else []
            pure = True
        else:
            runs, pure = _line_runs(body)
        keep = [r for r in runs if len(r) >= 4 or pure or dump]
        if not keep:
            continue
        data = b"".join(keep)
        if dump:
            out.dump_lines += 1
            dump_count += len(data)
        out.chunks.append(data)
    return out


# ---------------------------------------------------------------------------- bytes -> frames


@dataclass(frozen=True)
class Frame:
    family: str  # jk | jbd | ant | ant_leg | daly | daly_x81 | daly_a5
    data: bytes
    complete: bool = True


# ANT 2021 reply types (esphome-ant-bms: status 11, device info 12, logs/permissions/system/GPS 13-16, 42, 43, 61);
# everything else after 7E A1 is something the app wrote (01 status, 02 device info, 23 auth, 51 write register)
_ANT_REPLIES = frozenset({0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x42, 0x43, 0x61})


def _reply_kind(s: bytes, i: int) -> str | None:
    b = s[i:i + 4]
    if b == b"\x55\xaa\xeb\x90":
        return "jk"
    if b == b"\xaa\x55\xaa\xff":
        return "ant_leg"
    if len(b) >= 3 and b[0] == 0xDD and b[1] in (0x03, 0x04, 0x05) and b[2] in (0x00, 0x80):
        return "jbd"
    if len(b) >= 3 and b[:2] == b"\x7e\xa1" and b[2] in _ANT_REPLIES:
        return "ant"
    if len(b) >= 3 and b[:2] == b"\xd2\x03" and b[2] > 0 and b[2] % 2 == 0:
        return "daly"
    if len(b) >= 3 and b[:2] == b"\x51\x03" and b[2] > 0 and b[2] % 2 == 0:
        return "daly_x81"
    if len(b) >= 3 and b[0] == 0xA5 and b[1] == 0x01 and 0x90 <= b[2] <= 0x98:
        return "daly_a5"
    return None


def _request_len(s: bytes, i: int) -> int:
    b = s[i:i + 4]
    if b == b"\xaa\x55\x90\xeb":
        return 20  # JK command (and its C8 "ready" message)
    if len(b) >= 4 and b[0] == 0xDD and b[1] in (0xA5, 0x5A):
        return 4 + b[3] + 3
    if len(b) >= 3 and b[:2] == b"\x7e\xa1" and b[2] not in _ANT_REPLIES:  # 01/02 reads, 51 write, 23 auth
        end = s.find(b"\xaa\x55", i + 8)
        return (end + 2 - i) if end >= 0 else 10
    if b[:3] == b"\xdb\xdb\x00" or b[:2] == b"\xa5\xa5":
        return 6  # ANT legacy GET / SET
    if len(b) >= 3 and b[0] in (0xD2, 0x81) and b[1] in (0x03, 0x06) and (b[2] == 0 or b[0] == 0x81):
        return 8  # Daly Modbus read / write-one request
    if len(b) >= 3 and b[0] == 0xA5 and b[1] == 0x40 and 0x90 <= b[2] <= 0x98:
        return 13  # Daly A5 request
    return 0


def _reply_len(kind: str, s: bytes, i: int) -> int:
    if kind == "jk":
        return 300
    if kind == "ant_leg":
        return 140
    if kind == "jbd":
        return 4 + s[i + 3] + 3 if i + 3 < len(s) else 7
    if kind == "ant":
        n = s[i + 5] + 10 if i + 5 < len(s) else 10
        if s[i + n - 2:i + n] != b"\xaa\x55":  # the device-info reply states a wrong length
            end = s.find(b"\xaa\x55", i + 10)
            n = end + 2 - i if end >= 0 else n
        return n
    if kind in ("daly", "daly_x81"):
        return s[i + 2] + 5
    if kind == "daly_a5":
        return 13
    return 0


@dataclass
class Segments:
    frames: list[Frame] = field(default_factory=list)
    requests: int = 0
    skipped: int = 0  # bytes that belong to no frame


def segment(chunks: list[bytes]) -> Segments:
    out = Segments()
    s = b"".join(chunks)
    i = 0
    n = len(s)
    while i < n:
        kind = _reply_kind(s, i)
        if kind:
            length = _reply_len(kind, s, i)
            frame = s[i:i + length]
            complete = len(frame) == length
            if complete and kind == "jk" and i + length < n and _reply_kind(s, i + length) is None \
                    and not _request_len(s, i + length):
                pass  # extra bytes after a JK frame (AT\r\n, padding) are skipped below
            out.frames.append(Frame(kind, frame, complete))
            i += max(length, 1)
            continue
        req = _request_len(s, i)
        if req:
            out.requests += 1
            i += req
            continue
        out.skipped += 1
        i += 1
    return out
