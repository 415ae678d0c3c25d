"""The local signing identity: a test CA and an end-entity certificate, made on first use.

C2PA needs an X.509 chain whose leaf is not self-signed, so minisora makes its own small CA
(ECDSA P-256, 10 years) and signs one end-entity certificate with it (digitalSignature, the
emailProtection purpose that C2PA validators accept). Both live in the user's config folder:
$MINISORA_HOME/provenance, else $XDG_CONFIG_HOME/minisora/provenance, else
~/.config/minisora/provenance. Verification trusts this CA, so a file signed on another
machine reads as valid but from an untrusted signer. Nothing here touches the network.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SIGNER_CERT = "signer.pem"
SIGNER_KEY = "signer.key"
VALID_DAYS = 3650


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # end-entity certificate, then the CA
    key_pem: bytes  # the end-entity's private key (PKCS#8)
    ca_pem: bytes  # the trust anchor verification uses
    folder: Path


def config_folder() -> Path:
    """Where minisora keeps its keys: $MINISORA_HOME, $XDG_CONFIG_HOME/minisora, ~/.config/minisora."""
    if os.environ.get("MINISORA_HOME"):
        return Path(os.environ["MINISORA_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "minisora"


def load_identity(folder: Path | None = None) -> SigningIdentity:
    """The signing identity in `folder` (default: config_folder()/provenance), made if missing."""
    folder = folder or config_folder() / "provenance"
    paths = [folder / name for name in (CA_CERT, CA_KEY, SIGNER_CERT, SIGNER_KEY)]
    if not all(p.is_file() for p in paths):
        _make_identity(folder)
    try:
        ca_pem, _, cert_pem, key_pem = (p.read_bytes() for p in paths)
    except OSError as exc:
        raise RuntimeError(f"cannot read the signing keys in {folder} ({exc}); check its permissions") from None
    return SigningIdentity(chain_pem=cert_pem + ca_pem, key_pem=key_pem, ca_pem=ca_pem, folder=folder)


def _make_identity(folder: Path) -> None:
    """Make the four files in a private scratch folder, then rename it into place: two processes
    making keys at once end up sharing one complete set, never a CA from one and a leaf from
    the other."""
    import shutil
    import tempfile

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))  # mode 0700
    except OSError as exc:
        raise RuntimeError(
            f"cannot create the key folder {folder} ({exc}); set MINISORA_HOME to a writable folder"
        ) from None
    ca_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key)
    signer_cert = _signer_certificate(signer_key, ca_key, ca_cert)
    pem = serialization.Encoding.PEM
    for name, data in (
        (CA_KEY, _key_pem(ca_key)),
        (SIGNER_KEY, _key_pem(signer_key)),
        (CA_CERT, ca_cert.public_bytes(pem)),
        (SIGNER_CERT, signer_cert.public_bytes(pem)),
    ):
        fd = os.open(scratch / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    try:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # an empty leftover: take its place
        os.rename(scratch, folder)
    except OSError:
        if not all((folder / name).is_file() for name in (CA_CERT, CA_KEY, SIGNER_CERT, SIGNER_KEY)):
            raise RuntimeError(
                f"{folder} exists but lacks some of {CA_CERT}, {CA_KEY}, {SIGNER_CERT}, {SIGNER_KEY}; "
                "move it aside and run again to make a new signing identity"
            ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when the rename won


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "minisora (local, not publicly trusted)"),
    ])


def _builder(subject, issuer, public_key):
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _usage(**granted: bool):
    from cryptography import x509

    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: granted.get(name, False) for name in names})


def _ca_certificate(ca_key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    name = _name("minisora local test CA")
    return (
        _builder(name, name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )


def _signer_certificate(signer_key, ca_key, ca_cert):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    return (
        _builder(_name("minisora signer"), ca_cert.subject, signer_key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
