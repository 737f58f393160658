"""Imports every area's models so ``Base.metadata`` is complete (migrations, tests)."""

from __future__ import annotations

from server.applicants.models import Applicant, RecapEntry
from server.audit.models import AuditEntry
from server.auth.models import LoginSession, PasswordResetToken
from server.cards.models import CardEpoch, CardIssueJob, CardLink, CardPayload
from server.checks.models import CheckEntry, CodeRevocation
from server.database import Base
from server.groups.models import Group, GroupMembership
from server.mail.models import OutboxMessage
from server.member_codes.models import Agreement, Seat
from server.members.models import Branch, Member
from server.nightly.models import JobLock, NightlyJobRun
from server.photos.models import MemberPhoto
from server.proofs.models import MembershipProof
from server.settings.models import SettingValue
from server.wallet.models import WalletDelivery, WalletDevice, WalletPass

__all__ = [
    "Agreement",
    "Applicant",
    "RecapEntry",
    "Seat",
    "AuditEntry",
    "Base",
    "Branch",
    "CardEpoch",
    "CardIssueJob",
    "CardLink",
    "CardPayload",
    "CheckEntry",
    "CodeRevocation",
    "Group",
    "GroupMembership",
    "JobLock",
    "NightlyJobRun",
    "LoginSession",
    "Member",
    "MemberPhoto",
    "MembershipProof",
    "OutboxMessage",
    "PasswordResetToken",
    "SettingValue",
    "WalletDelivery",
    "WalletDevice",
    "WalletPass",
]
