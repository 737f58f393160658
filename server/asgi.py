"""The ASGI application for uvicorn (``server.asgi:app``)."""

from __future__ import annotations

import gc
import sys

from server import logs
from server.app import create_app

SWITCH_INTERVAL = 0.0005  # seconds

logs.configure()  # every worker logs the same way (uvicorn's own setup is off)
app = create_app()

# What exists now (modules, models, routes) lives as long as the process: keep it out
# of the collector's full passes, which otherwise walk all of it each time (pauses of
# 60-70 ms under load, measured on the check; about 1 ms once frozen).
gc.collect()
gc.freeze()

# The ORM's database calls run in the driver's threads (aiosqlite), each handing the GIL
# back and forth with the event loop twice. While the loop is busy serving the hot paths
# a thread waits for the loop to give the GIL up — by default every 5 ms, which made a
# card rebuild of a dozen queries take 400 ms under load. Every half millisecond keeps
# those waits short; the loop itself is the only busy thread, so it costs little.
sys.setswitchinterval(SWITCH_INTERVAL)
