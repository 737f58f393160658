"""Demo: where to try the marshal check."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.demo.registry import DemoData, demo_step


@demo_step(90)
async def check_links(db: AsyncSession, demo: DemoData) -> None:
    demo.notes.append(
        "Marshal check: scan the QR on any card (or open its link); the offline scanner is "
        f"at {demo.base_url}/check/scan/ (log in with the check_cards permission)."
    )
