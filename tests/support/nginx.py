"""nginx running the deploy site (deploy/nginx/tracker.conf) in front of server processes, with only its ports,
paths and certificate swapped: what tests/test_multiprocess.py checks and bench/writes.py measures through."""

import re
import shutil
import subprocess
from pathlib import Path

from tests.support.http import http
from tests.support.processes import ROOT, stop_process, wait_until


def binary() -> str | None:
    """Return the nginx executable, None if it is not installed (deploy/provision.sh installs nginx-light)."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if shutil.which(found) else None


def site_config(port: int, redirect_port: int, upstreams: list[str], static_root: Path, cert: Path, key: Path) -> str:
    """Return deploy/nginx/tracker.conf with only its ports, paths and certificate replaced: TLS on 127.0.0.1:`port`,
    the HTTP redirect on `redirect_port`, the upstream block listing `upstreams` ("host:port") with the
    production server options. Raises AssertionError if the file no longer has what is replaced."""
    config = (ROOT / "deploy" / "nginx" / "tracker.conf").read_text()
    production_upstream = r"(?m)^    server 127\.0\.0\.1:800\d (.*);\n"
    options = re.findall(production_upstream, config)
    assert len(options) == 4 and "    least_conn;\n" in config, "the upstream block of tracker.conf changed"
    servers = "".join(f"    server {upstream} {options[0]};\n" for upstream in upstreams)
    config = re.sub(production_upstream, "", config).replace("    least_conn;\n", "    least_conn;\n" + servers)
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{redirect_port};"),
        ("listen [::]:80;\n", ""),
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("listen [::]:443 ssl;\n", ""),
        ("/opt/tracker/staticfiles/", f"{static_root}/"),
        ("/etc/letsencrypt/live/tracker.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/tracker.example.org/privkey.pem", str(key)),
    ]:
        assert old in config, f"deploy/nginx/tracker.conf no longer has {old!r}"
        config = config.replace(old, new)
    return config


class Nginx:
    """One nginx master (one worker) with the deploy site, its prefix, configuration, throw-away certificate and
    temporary files all in `workdir`, serving static files from `static_root`."""

    def __init__(
        self,
        workdir: Path,
        upstreams: list[str],
        *,
        port: int,
        redirect_port: int,
        static_root: Path,
        worker_connections: int = 256,
    ):
        self.workdir, self.port = workdir, port
        self.base = f"127.0.0.1:{port}"
        self.upstreams, self.redirect_port, self.static_root = upstreams, redirect_port, static_root
        self.worker_connections = worker_connections
        self.command = [binary() or "nginx", "-p", str(workdir), "-c", str(workdir / "nginx.conf")]
        self.process: subprocess.Popen | None = None

    def configure(self) -> None:
        """Write the certificate and configuration; raise RuntimeError with nginx's message if `nginx -t` fails."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = self.workdir / "cert.pem", self.workdir / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=30,
        )
        site = site_config(self.port, self.redirect_port, self.upstreams, self.static_root, cert, key)
        (self.workdir / "tracker.conf").write_text(site)
        (self.workdir / "nginx.conf").write_text(
            f"""
user root;
daemon off;
worker_processes 1;
pid {self.workdir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections {self.worker_connections}; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {self.workdir}/body;
    proxy_temp_path {self.workdir}/proxy;
    include {self.workdir}/tracker.conf;
}}
"""
        )
        checked = subprocess.run([*self.command, "-t"], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t: {checked.stderr}")

    def start(self, timeout: float = 10) -> "Nginx":
        """Configure and start nginx; return once /healthz answers through it (raise TimeoutError otherwise)."""
        self.configure()
        # To a file, not a pipe: nothing reads nginx's messages while it runs, and a full pipe would stall it.
        with (self.workdir / "error.log").open("wb") as errors:
            self.process = subprocess.Popen(self.command, stderr=errors)
        wait_until(lambda: http(f"https://{self.base}/healthz", insecure=True).status, timeout, "nginx")
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
