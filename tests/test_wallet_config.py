"""Wallet configuration: each wallet on only when complete; a broken setting stops the
start with a line that names it (and no secret)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.config import Config

from server.config import load_settings
from server.startup_errors import explain
from server.wallet.config import WalletConfigError, load_wallet_config
from tests.wallet_fixtures import make_credentials


def wallet(env: dict[str, str]):
    return load_wallet_config(Config(environ=env))


def test_nothing_set_offers_nothing(tmp_path: Path):
    assert wallet({}).offered() == frozenset()
    settings = load_settings({"TESSERA_DATA_DIR": str(tmp_path)})
    assert not settings.wallet.any


def test_complete_settings_offer_each_wallet(tmp_path: Path):
    credentials = make_credentials(tmp_path)
    assert wallet(credentials.apple_env()).offered() == {"apple"}
    assert wallet(credentials.google_env()).offered() == {"google"}
    both = load_settings(
        {"TESSERA_DATA_DIR": str(tmp_path), **credentials.apple_env(), **credentials.google_env()}
    )
    assert both.wallet.offered() == {"apple", "google"}
    assert both.wallet.google.class_id.endswith(".tessera_member")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WALLET_APPLE_WWDR": ""}, "Apple Wallet is half configured: set WALLET_APPLE_WWDR too"),
        (
            {"WALLET_APPLE_CERT": "/nowhere/pass.pem"},
            "WALLET_APPLE_CERT: cannot read /nowhere/pass.pem",
        ),
        ({"WALLET_APPLE_KEY": "GOOGLE_KEY"}, "WALLET_APPLE_KEY: cannot load the private key"),
        (
            {"WALLET_APPLE_KEY": "SERVER_KEY"},
            "WALLET_APPLE_KEY is not the key of WALLET_APPLE_CERT",
        ),
        ({"WALLET_APPLE_WWDR": "PASS_KEY"}, "is not a certificate"),
        (
            {"WALLET_APPLE_APNS_CAFILE": "PASS_KEY"},
            "WALLET_APPLE_APNS_CAFILE: " + "PASS_KEY_PATH holds no PEM CA certificate",
        ),
        ({"WALLET_GOOGLE_KEY_FILE": ""}, "set WALLET_GOOGLE_KEY_FILE too"),
        ({"WALLET_GOOGLE_KEY_FILE": "ROOT"}, "is not a service-account key"),
        (
            {"WALLET_GOOGLE_KEY_FILE": "/nowhere/key.json"},
            "WALLET_GOOGLE_KEY_FILE: cannot read /nowhere/key.json",
        ),
        ({"WALLET_GOOGLE_ISSUER_ID": "my issuer"}, "WALLET_GOOGLE_ISSUER_ID must be the issuer"),
        ({"WALLET_GOOGLE_CLASS_SUFFIX": "member card/2026"}, "WALLET_GOOGLE_CLASS_SUFFIX may"),
    ],
)
def test_a_broken_setting_names_itself(tmp_path: Path, change, message):
    credentials = make_credentials(tmp_path)
    files = {
        "GOOGLE_KEY": str(credentials.google_key_file),
        "SERVER_KEY": str(credentials.server_key),
        "PASS_KEY": str(credentials.key),
        "ROOT": str(credentials.root),
    }
    env = {**credentials.apple_env(), **credentials.google_env()}
    env.update({k: files.get(v, v) for k, v in change.items()})
    with pytest.raises(WalletConfigError) as raised:
        load_settings({"TESSERA_DATA_DIR": str(tmp_path), **env})
    assert message.replace("PASS_KEY_PATH", str(credentials.key)) in str(raised.value)
    assert "BEGIN" not in explain(raised.value)  # no key material in what is printed


def _apple_subject_certificate(credentials, folder: Path, uid: str, team: str) -> Path:
    """The pass certificate re-issued with the subject Apple gives one: the pass type
    as UID and the team as OU (self-signed: only the subject matters here)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(credentials.key.read_bytes(), password=None)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, uid),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {uid}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    path = folder / "apple-subject.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_a_pass_type_or_team_the_certificate_is_not_for_names_itself(tmp_path: Path):
    from tests.wallet_fixtures import PASS_TYPE_ID, TEAM_ID

    credentials = make_credentials(tmp_path)
    env = credentials.apple_env()
    right = _apple_subject_certificate(credentials, tmp_path, PASS_TYPE_ID, TEAM_ID)
    assert wallet({**env, "WALLET_APPLE_CERT": str(right)}).apple is not None
    with pytest.raises(WalletConfigError) as raised:
        wallet({**env, "WALLET_APPLE_CERT": str(right), "WALLET_APPLE_PASS_TYPE_ID": "pass.x.y"})
    assert str(raised.value).startswith(
        f"WALLET_APPLE_PASS_TYPE_ID is pass.x.y, but WALLET_APPLE_CERT is the certificate of "
        f"{PASS_TYPE_ID}"
    )
    with pytest.raises(WalletConfigError) as raised:
        wallet({**env, "WALLET_APPLE_CERT": str(right), "WALLET_APPLE_TEAM_ID": "ZZZZZ99999"})
    assert "WALLET_APPLE_TEAM_ID is ZZZZZ99999" in str(raised.value)
