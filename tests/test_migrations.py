"""The migrations create exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import server.models  # noqa: F401
from server.database import Base, make_engine
from server.plugins import registry as plugin_registry


async def test_migrated_schema_matches_models(database_url):
    plugin_registry.discover()  # plugin models join Base.metadata
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
            )
        )
    await engine.dispose()
    assert diff == []
