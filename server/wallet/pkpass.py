"""The ``.pkpass`` archive: the pass's files, ``manifest.json`` and its detached signature.

``manifest.json`` maps every file to its SHA-1 (Apple's format); ``signature`` is a
detached PKCS #7 signature of the manifest in DER, made with the pass-type certificate
and its key (SHA-256), carrying Apple's WWDR intermediate so the phone can build the
chain to Apple's root. Built with ``cryptography``'s PKCS #7 builder, already a
dependency (the pkpass libraries on PyPI were judged stale or framework-sized; see
the README's "Wallet passes").
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from server.wallet.config import AppleWallet

MEDIA_TYPE = "application/vnd.apple.pkpass"


def manifest(files: Mapping[str, bytes]) -> bytes:
    return json.dumps(
        {name: hashlib.sha1(data).hexdigest() for name, data in sorted(files.items())},
        indent=2,
    ).encode()


def sign(manifest_bytes: bytes, apple: AppleWallet) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest_bytes)
        .add_signer(apple.certificate, apple.key, hashes.SHA256())
        .add_certificate(apple.wwdr)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


def archive(files: Mapping[str, bytes], apple: AppleWallet) -> bytes:
    """The signed ``.pkpass`` of ``files`` (``pass.json`` and the images)."""
    manifest_bytes = manifest(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in sorted(files.items()):
            zipped.writestr(name, data)
        zipped.writestr("manifest.json", manifest_bytes)
        zipped.writestr("signature", sign(manifest_bytes, apple))
    return buffer.getvalue()
