"""The Ed25519 key pairs that sign check codes, kept in ``<data dir>/check_keys.json``.

The first key pair is made on first use. ``rotate-check-key`` adds a new current key;
earlier keys keep verifying the codes they signed until those expire, unless a key is
retired (compromised or old), after which its codes are refused. Several public keys
are therefore valid at once, and the offline scanner caches all of them
(``/check/keys.json``). The file is re-read when it changes, so every worker follows a
rotation made from the command line within a few seconds.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.keyfiles import read_private

FILE_NAME = "check_keys.json"
RELOAD_SECONDS = 5.0
MAX_KEY_ID = 0xFFFF


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CheckKey:
    key_id: int
    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    created_at: dt.datetime
    retired_at: dt.datetime | None = None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    @property
    def public_raw(self) -> bytes:
        return self.public.public_bytes_raw()

    def as_json(self) -> dict[str, object]:
        """The stored form (private key included; the file is mode 0600)."""
        return {
            "private": b64e(self.private.private_bytes_raw()),
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


@dataclass(frozen=True)
class Keyring:
    current_id: int
    keys: dict[int, CheckKey]

    @property
    def current(self) -> CheckKey:
        return self.keys[self.current_id]

    def public_keys(self) -> list[dict[str, object]]:
        """What ``/check/keys.json`` publishes: every key, public part only."""
        return [
            {
                "kid": k.key_id,
                "public": b64e(k.public_raw),
                "created_at": k.created_at.isoformat(),
                "retired": k.retired,
            }
            for k in sorted(self.keys.values(), key=lambda k: k.key_id)
        ]

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self.current_id,
                "keys": {str(k): v.as_json() for k, v in self.keys.items()},
            },
            indent=2,
        )


def _new_key(key_id: int, now: dt.datetime) -> CheckKey:
    private = Ed25519PrivateKey.generate()
    return CheckKey(key_id, private, private.public_key(), now)


def _parse(text: str) -> Keyring:
    data = json.loads(text)
    keys: dict[int, CheckKey] = {}
    for kid, entry in data["keys"].items():
        private = Ed25519PrivateKey.from_private_bytes(b64d(entry["private"]))
        retired = entry.get("retired_at")
        keys[int(kid)] = CheckKey(
            int(kid),
            private,
            private.public_key(),
            dt.datetime.fromisoformat(entry["created_at"]),
            dt.datetime.fromisoformat(retired) if retired else None,
        )
    return Keyring(int(data["current"]), keys)


def _written_beside(path: Path, ring: Keyring) -> Path:
    """``ring`` written whole to a private file of its own next to ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(ring.to_json())
    return tmp


def _write_new(path: Path, ring: Keyring) -> None:
    """Write atomically; never let a reader see half a file."""
    os.replace(_written_beside(path, ring), path)


def read(data_dir: Path) -> Keyring | None:
    """The keyring in ``data_dir``, or None when there is none (nothing is made)."""
    path = data_dir / FILE_NAME
    return _parse(read_private(path)) if path.exists() else None


def load_or_create(data_dir: Path) -> Keyring:
    """The keyring in ``data_dir``; made (one key pair) if there is none yet."""
    ensure(data_dir)
    return _parse(read_private(data_dir / FILE_NAME))


def ensure(data_dir: Path) -> None:
    """Make the keyring (one key pair) if ``data_dir`` has none yet. ``serve`` and
    ``backup`` call it, so the file exists to be copied to other machines (or into an
    archive) before the first card is signed."""
    path = data_dir / FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = _written_beside(path, Keyring(1, {1: _new_key(1, dt.datetime.now(dt.UTC))}))
        # link() fails if another process won the race: then its key is the key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()


def rotate(data_dir: Path, *, retire_previous: bool = False) -> Keyring:
    """Add a new current key; optionally retire every earlier one."""
    ring = load_or_create(data_dir)
    now = dt.datetime.now(dt.UTC)
    new_id = max(ring.keys) + 1
    if new_id > MAX_KEY_ID:
        raise ValueError("no key ids left; start a new keyring")
    keys = dict(ring.keys)
    if retire_previous:
        keys = {k: _retired(v, now) for k, v in keys.items()}
    keys[new_id] = _new_key(new_id, now)
    rotated = Keyring(new_id, keys)
    _write_new(data_dir / FILE_NAME, rotated)
    return rotated


def retire(data_dir: Path, key_id: int) -> Keyring:
    """Retire one key: codes it signed are refused from now on. Not the current key."""
    ring = load_or_create(data_dir)
    if key_id not in ring.keys:
        raise ValueError(f"there is no key {key_id}")
    if key_id == ring.current_id:
        raise ValueError("the current key cannot be retired; rotate first")
    keys = dict(ring.keys)
    keys[key_id] = _retired(keys[key_id], dt.datetime.now(dt.UTC))
    retired = Keyring(ring.current_id, keys)
    _write_new(data_dir / FILE_NAME, retired)
    return retired


def _retired(key: CheckKey, now: dt.datetime) -> CheckKey:
    if key.retired:
        return key
    return CheckKey(key.key_id, key.private, key.public, key.created_at, now)


class KeyringCache:
    """A per-process keyring that follows changes to the file (checked every few seconds)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._ring: Keyring | None = None
        self._mtime = 0.0
        self._checked = 0.0

    def get(self) -> Keyring:
        now = time.monotonic()
        if self._ring is not None and now - self._checked < RELOAD_SECONDS:
            return self._ring
        self._checked = now
        path = self.data_dir / FILE_NAME
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            mtime = -1.0
        if self._ring is None or mtime != self._mtime:
            self._ring = load_or_create(self.data_dir)
            self._mtime = path.stat().st_mtime
        return self._ring


_CACHES: dict[Path, KeyringCache] = {}


def keyring_for(data_dir: Path) -> Keyring:
    cache = _CACHES.get(data_dir)
    if cache is None:
        cache = _CACHES[data_dir] = KeyringCache(data_dir)
    return cache.get()
