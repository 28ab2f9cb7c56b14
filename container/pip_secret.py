"""The builder's own pip index configuration, as a pip.conf for the image build (a secret).

    python container/pip_secret.py container/build/pip.conf container/build/cert.pem

Read from `pip config list` (pip's own files and PIP_* variables), never hard-coded: only the
keys that say where packages come from over the network (index-url, extra-index-url,
trusted-host, timeout), local `file://` indexes and find-links dropped (the build cannot see
this machine's folders), and the certificate bundle pip trusts copied beside it, so a build
behind the same proxy or mirror as the host works the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

KEEP = {"index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout"}


def main() -> None:
    conf, cert = Path(sys.argv[1]), Path(sys.argv[2])
    conf.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    lines, cert_src = ["[global]"], None
    for line in out.splitlines():
        key, _, value = line.partition("=")
        key, value = key.split(".", 1)[-1], value.strip().strip("'\"")
        if key == "cert" and Path(value).is_file():
            cert_src = Path(value)
        if key not in KEEP:
            continue
        urls = [v for v in value.split() if not v.startswith("file:")]
        if urls:
            lines.append(f"{'timeout' if key == 'default-timeout' else key} = {' '.join(urls)}")
    cert_src = cert_src or Path("/etc/ssl/certs/ca-certificates.crt")
    if cert_src.is_file():
        shutil.copyfile(cert_src, cert)
        lines.append("cert = /etc/pip-cert.pem")
    else:
        cert.write_text("")
    conf.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
