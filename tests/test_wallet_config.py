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
