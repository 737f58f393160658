"""``manage.py demo``: load the demo data (idempotent); ``serve --demo`` calls it too."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import pkgutil
from pathlib import Path

from server.cli import command
from server.config import load_settings
from server.core_commands import prepare_database
from server.db.engine import make_engine, make_sessionmaker
from server.demo.registry import DemoData, steps
from server.plugins import registry as plugins

DEMO_DIR = Path(__file__).resolve().parent


def load_steps() -> None:
    """Import every module under ``server/demo/`` (each registers its steps); plugins
    register theirs when discovered."""
    for info in pkgutil.iter_modules([str(DEMO_DIR)]):
        importlib.import_module(f"server.demo.{info.name}")
    plugins.discover()


async def load_demo(url: str, base_url: str, today: dt.date | None = None) -> DemoData:
    """Run every demo step in order, in one transaction."""
    load_steps()
    demo = DemoData(today=today or dt.date.today(), base_url=base_url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            for step in steps():
                await step(db, demo)
    finally:
        await engine.dispose()
    return demo


@command("demo", "Load demo data: branches, ~50 members in every status, groups, an admin.")
def demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not prepare_database(settings.database_url):
        return 1
    data = asyncio.run(load_demo(settings.database_url, settings.base_url))
    print("Demo data is loaded.")
    for line in data.notes:
        print(line)
    return 0
