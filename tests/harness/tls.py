"""Real keys and certificates with the `openssl` CLI, for the program's pulumi-tls resources under the mocks
(tests/harness/secret_mocks.py) and for the REST proxy tests (tests/harness/rest_proxy.py).

Each function takes and returns PEM text, like the pulumi-tls resources it stands in for.
"""

from __future__ import annotations

import ipaddress
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.harness import missing

# pulumi-tls `allowed_uses` → openssl extension values (the names are the provider's, RFC 5280's meaning).
_KEY_USAGE = {"digital_signature": "digitalSignature", "key_encipherment": "keyEncipherment",
              "cert_signing": "keyCertSign", "crl_signing": "cRLSign"}
_EXTENDED_KEY_USAGE = {"server_auth": "serverAuth", "client_auth": "clientAuth"}


def _openssl(*args: str, cwd: Path) -> None:
    if shutil.which("openssl") is None:
        missing("openssl")
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _in_tmp(files: dict[str, str], run: list[tuple[str, ...]], result: str) -> str:
    with tempfile.TemporaryDirectory(prefix="tls-") as work:
        directory = Path(work)
        for name, text in files.items():
            (directory / name).write_text(text)
        for args in run:
            _openssl(*args, cwd=directory)
        return (directory / result).read_text()


def private_key(algorithm: str = "ECDSA", ecdsa_curve: str = "P256", rsa_bits: int = 2048) -> str:
    """A PKCS#8 private key: ECDSA on P-256/P-384 or RSA, as tls.PrivateKey's `algorithm`."""
    if algorithm == "ECDSA":
        curve = {"P224": "P-224", "P256": "P-256", "P384": "P-384", "P521": "P-521"}[ecdsa_curve]
        options = ("-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}")
    elif algorithm == "RSA":
        options = ("-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{rsa_bits}")
    else:
        raise ValueError(f"algorithm {algorithm} is not supported here")
    return _in_tmp({}, [("genpkey", *options, "-out", "key.pem")], "key.pem")


def _subject(common_name: str) -> str:
    return "/CN=" + common_name.replace("/", "\\/")


def _alt_names(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> list[str]:
    return [f"DNS:{n}" for n in dns_names] + [f"IP:{ipaddress.ip_address(a)}" for a in ip_addresses]


def _extensions(*, ca: bool, allowed_uses: Sequence[str]) -> str:
    lines = [f"basicConstraints=critical,CA:{'TRUE' if ca else 'FALSE'}"]
    usage = [_KEY_USAGE[u] for u in allowed_uses if u in _KEY_USAGE]
    extended = [_EXTENDED_KEY_USAGE[u] for u in allowed_uses if u in _EXTENDED_KEY_USAGE]
    if usage:
        lines.append(f"keyUsage=critical,{','.join(usage)}")
    if extended:
        lines.append(f"extendedKeyUsage={','.join(extended)}")
    return "\n".join(lines) + "\n"


def _days(hours: int) -> str:
    return str(max(1, math.ceil(hours / 24)))


def self_signed_cert(key_pem: str, common_name: str, *, validity_hours: int, is_ca: bool,
                     allowed_uses: Sequence[str]) -> str:
    """tls.SelfSignedCert: the certificate of `key_pem` signed by itself."""
    extensions = _extensions(ca=is_ca, allowed_uses=allowed_uses)
    # `-addext` per line: no config file sections, and openssl's default config adds nothing else.
    addext = [arg for line in extensions.splitlines() for arg in ("-addext", line)]
    return _in_tmp({"key.pem": key_pem}, [("req", "-new", "-x509", "-key", "key.pem", "-subj", _subject(common_name),
                                           "-days", _days(validity_hours), *addext, "-out", "cert.pem")], "cert.pem")


def cert_request(key_pem: str, common_name: str, *, dns_names: Sequence[str] = (),
                 ip_addresses: Sequence[str] = ()) -> str:
    """tls.CertRequest: a CSR for `key_pem` with the subject and the alternative names."""
    names = _alt_names(dns_names, ip_addresses)
    addext = ("-addext", f"subjectAltName={','.join(names)}") if names else ()
    return _in_tmp({"key.pem": key_pem}, [("req", "-new", "-key", "key.pem", "-subj", _subject(common_name),
                                           *addext, "-out", "csr.pem")], "csr.pem")


def locally_signed_cert(csr_pem: str, ca_key_pem: str, ca_cert_pem: str, *, validity_hours: int,
                        allowed_uses: Sequence[str]) -> str:
    """tls.LocallySignedCert: the CSR's subject and alternative names (copied, as the provider does), signed
    by the CA."""
    return _in_tmp({"csr.pem": csr_pem, "ca.key": ca_key_pem, "ca.crt": ca_cert_pem,
                    "ext.cnf": _extensions(ca=False, allowed_uses=allowed_uses)},
                   [("x509", "-req", "-in", "csr.pem", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                     "-copy_extensions", "copy", "-days", _days(validity_hours), "-extfile", "ext.cnf",
                     "-out", "cert.pem")], "cert.pem")


def ca_and_server_cert(dns_names: Sequence[str] = ("localhost",), ip_addresses: Sequence[str] = ("127.0.0.1",),
                       ) -> tuple[str, str, str]:
    """(CA PEM, server cert PEM, server key PEM): ECDSA P-256, as the program's pulumi-tls resources."""
    ca_key = private_key()
    ca = self_signed_cert(ca_key, "flink-hologres test CA", validity_hours=48, is_ca=True,
                          allowed_uses=["cert_signing", "crl_signing"])
    key = private_key()
    csr = cert_request(key, dns_names[0] if dns_names else "flink", dns_names=dns_names, ip_addresses=ip_addresses)
    cert = locally_signed_cert(csr, ca_key, ca, validity_hours=48,
                               allowed_uses=["digital_signature", "key_encipherment", "server_auth"])
    return ca, cert, key
