"""Tessera: a self-hosted membership service."""
