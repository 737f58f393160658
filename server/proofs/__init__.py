"""Membership proofs: a member uploads their membership card; the office verifies or rejects."""
