"""A real Mosquitto for the fleet tests: started on a free loopback port with a generated config, restartable
(same port, same persistence file), stopped at the end. Never a mock."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    def __init__(self, workdir: Path, *, persistence: bool = True, users: dict[str, str] | None = None,
                 tls: tuple[Path, Path, Path] | None = None) -> None:
        """tls: (CA certificate, server certificate, server key) for a TLS-only listener (see self_signed)."""
        exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if exe is None:
            raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto; .ci/run does it)")
        self.exe = exe
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        auth = ["allow_anonymous true"]
        if users:  # a password file as mosquitto_passwd writes it
            pw = self.dir / "passwords"
            pw.write_text("")
            for user, password in users.items():
                subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b", str(pw), user,
                                password], check=True, capture_output=True)
            auth = ["allow_anonymous false", f"password_file {pw}"]
        certs = [f"cafile {tls[0]}", f"certfile {tls[1]}", f"keyfile {tls[2]}"] if tls else []
        lines = [f"listener {self.port} 127.0.0.1", *certs, *auth, "max_queued_messages 100000", "set_tcp_nodelay true",
                 f"log_dest file {self.dir / 'mosquitto.log'}", "log_type error", "log_type warning"]
        if os.geteuid() == 0:  # as root Mosquitto drops to user "mosquitto", which cannot write the test's directory
            lines.append("user root")
        if persistence:
            lines += ["persistence true", f"persistence_location {self.dir}/", "autosave_interval 1"]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: "
                                   + (self.dir / "mosquitto.log").read_text(errors="replace")[-500:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self, *, kill: bool = False, down: float = 0.5) -> None:
        self.stop(kill=kill)
        time.sleep(down)
        self.start()


def self_signed(workdir: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost, made with the openssl command."""
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("openssl is not installed")
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)
    ca, ca_key, crt, key, csr, ext = (d / n for n in ("ca.crt", "ca.key", "server.crt", "server.key", "server.csr",
                                                        "ext.cnf"))
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for argv in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
                  "-subj", "/CN=bmsdoc test CA"],
                 ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                 ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days",
                  "2", "-extfile", ext]):
        subprocess.run([exe, *map(str, argv)], check=True, capture_output=True)
    return ca, crt, key
