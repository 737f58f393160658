"""Deciding a check: from the code in the URL to one result of the fixed vocabulary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server import clock
from server.checks import codes
from server.checks.keyring import Keyring
from server.checks.lookup import MemberFacts
from server.checks.results import Result, result

Lookup = Callable[[str], Awaitable[MemberFacts | None]]
Voided = Callable[[int, str], Awaitable[bool]]
NEEDS_PARENT = frozenset({"minor_unverified", "minor_membership_verified"})
NOT_VERIFIED = frozenset({"active", "minor_parent_verified"})


@dataclass(frozen=True)
class Verdict:
    result: Result
    reason: str
    code: codes.CheckCode | None = None
    member: MemberFacts | None = None
    key_id: int | None = None


async def decide(
    text: str,
    keyring: Keyring,
    lookup: Lookup,
    now: dt.datetime,
    voided: Voided | None = None,
) -> Verdict:
    """Check one code, live.

    1. Decode the code; anything that is not a well-formed version-1 code → ``unknown``.
    2. Find the signing key by its id; a key this server never had → ``unknown``.
    3. Look the member up by the public id in the code (one indexed query: their
       branch, the latest code revocation, the code their mobile card carries now).
    4. Check the Ed25519 signature over every byte before it: the very code the
       member's card carries is one the server made; any other is signed again and
       compared, and verified with the public key if it differs (see
       ``server.checks.codes``). A signature that does not verify (altered payload,
       altered signature, forgery) → ``unknown``.
    5. A code signed by a retired key → ``revoked``.
    6. No such member, or soft-deleted → ``unknown``.
    7. The code was issued before the member's codes were revoked (lost card) → ``revoked``;
       so is a long-lived code that a voided wallet pass shows (``voided``: asked only
       for codes that live longer than the mobile card's, never on its hot path).
    8. The code is past its valid-until → ``code_expired``.
    9. The member is deactivated → ``deactivated``.
    10. An under-18 member with no parent linked → ``minor_needs_parent``.
    11. Membership not verified → ``unverified``.
    12. Membership expiry missing or before the organisation's today (its time zone,
        ``server.clock``) → ``membership_expired``.
    13. Otherwise → ``ok``.
    """
    try:
        signed = codes.parse(text, keyring)  # steps 1-2
        member = await lookup(signed.code.public_id)  # step 3
        code = codes.trust(signed, member.known_code if member else None)  # steps 4-5
    except codes.CodeRejected as rejected:
        return Verdict(result(rejected.result), rejected.reason, key_id=rejected.key_id)
    if member is None or member.deleted:
        return Verdict(result("unknown"), "The code is genuine, but there is no such member.", code)

    def verdict(key: str, reason: str) -> Verdict:
        return Verdict(result(key), reason, code, member, code.key_id)

    if member.revoked_before is not None and code.issued_at < member.revoked_before:
        when = clock.stamp(member.time_zone, member.revoked_before)
        return verdict(
            "revoked", f"This member's codes issued before {when} were revoked (a lost card?)."
        )
    if (
        voided is not None
        and code.valid_until - code.issued_at > codes.MOBILE_VALIDITY
        and await voided(member.member_id, text)
    ):
        return verdict("revoked", "This code is on a wallet pass that was voided.")
    if code.expired(now):
        return verdict("code_expired", "The code has expired: refresh the card or reprint it.")
    if member.status == "deactivated":
        return verdict("deactivated", "The member has been deactivated.")
    if member.status in NEEDS_PARENT:
        return verdict("minor_needs_parent", "Under 18 and no parent or guardian is linked.")
    if member.status in NOT_VERIFIED:
        return verdict("unverified", "The membership has not been verified.")
    today = member.today(now)
    expires = member.membership_expires_on
    if expires is None or expires < today:
        when = f" on {expires.isoformat()}" if expires else ""
        return verdict("membership_expired", f"The membership expired{when}.")
    return verdict("ok", f"Membership current until {expires.isoformat()}.")
