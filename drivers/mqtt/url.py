"""Broker addresses: `mqtt://[user[:password]@]HOST[:PORT]`, `mqtts://` for TLS.

Credentials come, in this order, from the URL, from BMSDOC_MQTT_USERNAME / BMSDOC_MQTT_PASSWORD, or from a
credentials file (`--credentials FILE` or BMSDOC_MQTT_CREDENTIALS) holding `username: ...` and `password: ...`
lines (YAML). Putting a password on the command line shows it to every user of the machine (ps), so prefer the
environment or the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kb.errors import UserError

SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}


@dataclass(frozen=True)
class Broker:
    host: str
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    insecure: bool = False  # TLS without verifying the broker's certificate (self-signed test brokers)

    def describe(self) -> str:
        who = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{who}{self.host}:{self.port}"


def parse_url(url: str, *, credentials: str | None = None, tls: bool | None = None, ca_file: str | None = None,
              insecure: bool = False) -> Broker:
    """A broker URL -> Broker; anything wrong is a one-line UserError."""
    text = (url or "").strip()
    url = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", text)  # error messages never show a password
    if "://" not in text:
        text = "mqtt://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise UserError(f"'{url}' is not a broker address ({e}); expected mqtt://HOST[:PORT]") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UserError(f"'{url}': the scheme must be mqtt:// or mqtts://, not {parts.scheme}://")
    if not parts.hostname:
        raise UserError(f"'{url}' names no host; expected mqtt://HOST[:PORT]")
    if parts.path not in ("", "/") or parts.query:
        raise UserError(f"'{url}': a broker address has no path or query (mqtt://HOST[:PORT])")
    use_tls, default_port = SCHEMES[scheme]
    if tls is not None:
        use_tls = use_tls or tls
        if tls and port is None:
            default_port = 8883
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if user is None:
        user = os.environ.get("BMSDOC_MQTT_USERNAME") or None
        password = os.environ.get("BMSDOC_MQTT_PASSWORD") or password
    cred_file = credentials or os.environ.get("BMSDOC_MQTT_CREDENTIALS")
    if user is None and cred_file:
        user, password = read_credentials(cred_file)
    if ca_file and not Path(ca_file).is_file():
        raise UserError(f"--ca-file {ca_file}: no such file")
    return Broker(parts.hostname, port or default_port, use_tls, user, password, ca_file, insecure)


def read_credentials(path: str) -> tuple[str | None, str | None]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot read the credentials file {path}: {e.strerror or e}") from None
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError) as e:
        raise UserError(f"{path}: not a credentials file (username: ... / password: ...): {str(e).splitlines()[0]}") \
            from None
    if not isinstance(data, dict) or not data.get("username"):
        raise UserError(f"{path}: a credentials file holds 'username: NAME' and 'password: SECRET'")
    pw = data.get("password")
    return str(data["username"]), (None if pw is None else str(pw))
