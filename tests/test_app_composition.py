"""Composition is explicit: importing Tessera's modules registers nothing; ``create_app``
puts the parts together (the admin menu, the auth card's QR)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_importing_every_module_fills_no_menu_and_no_qr_slot(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import importlib, pkgutil, server
        skipped = ("server.migrations", "server.plugins.activities.migrations", "server.asgi")
        for info in pkgutil.walk_packages(server.__path__, "server."):
            if not info.name.startswith(skipped):
                importlib.import_module(info.name)
        from server.authcards.qr import qr_provider
        from server.web import navigation
        print([link.href for link in navigation.links()], qr_provider())
        from server.app import create_app
        from server.config import load_settings
        create_app(load_settings())
        hrefs = [link.href for link in navigation.links()]
        print("/members" in hrefs, "/check/scan/" in hrefs, qr_provider() is not None)
        """
    )
    env = {"TESSERA_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.strip().splitlines()
    assert before == "[] None"
    assert after == "True True True"
