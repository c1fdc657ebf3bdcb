"""A throwaway certificate authority and a 127.0.0.1 server certificate, made with ``openssl``.

Lambda talks https to both the download host and S3, and over https botocore sends part bodies
unsigned (a CRC32 protects them) where over plain http it hashes every byte with SHA-256; TLS
itself costs CPU on both ends. So the benchmark serves its source and its sinks over TLS with a
certificate made at run time, and points every client at the CA: botocore (``AWS_CA_BUNDLE``),
httpx, ``http.client`` and urllib3 (``SSL_CERT_FILE``, which OpenSSL's default paths honour),
``curl --cacert``, ``rclone --ca-cert``.

Both keys are RSA 2048 (what S3 and most download hosts present); the CA has the key usage and
key identifiers that strict verifiers (Go, Python 3.13's ``VERIFY_X509_STRICT``) require.
"""

from __future__ import annotations

import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "openssl"
_CA_EXTENSIONS = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


@dataclass(frozen=True)
class Certificates:
    """Paths of the CA certificate (what clients trust) and the server's certificate and key."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context for a loopback listener with this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the throwaway CA."""
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def make_certificates(directory: Path) -> Certificates:
    """Write a CA and a server certificate for 127.0.0.1 (valid 2 days) into ``directory``."""
    (directory / "ca.ext").write_text(_CA_EXTENSIONS)
    (directory / "server.ext").write_text(_SERVER_EXTENSIONS)
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=directory)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2",
        "-subj", "/CN=aiven-backup bench throwaway CA",
        "-extensions", "v3_ca_bench", "-config", "ca.cnf", "-out", "ca.pem",
        cwd=_with_ca_config(directory),
    )  # fmt: skip
    _openssl("genrsa", "-out", "server.key", "2048", cwd=directory)
    _openssl(
        "req", "-new", "-key", "server.key", "-subj", "/CN=127.0.0.1", "-out", "server.csr",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.pem",
        cwd=directory,
    )  # fmt: skip
    return Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")


def _with_ca_config(directory: Path) -> Path:
    """``openssl req -x509`` takes extensions from a config section: write one."""
    (directory / "ca.cnf").write_text(
        "[req]\ndistinguished_name = dn\n[dn]\n[v3_ca_bench]\n" + _CA_EXTENSIONS
    )
    return directory


@contextmanager
def throwaway_certificates() -> Iterator[Certificates]:
    """Certificates in a temporary directory that is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as directory:
        yield make_certificates(Path(directory))
