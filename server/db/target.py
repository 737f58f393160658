"""The database a process talks to, parsed once from ``DATABASE_URL``."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

BACKENDS = ("sqlite", "postgresql")
# Other names for a backend: hosting services hand out ``postgres://`` URLs.
BACKEND_ALIASES = {"postgres": "postgresql"}
# libpq's names for asyncpg options, as a ``psql``-style URL gives them.
LIBPQ_NAMES = {"sslmode": "ssl", "connect_timeout": "timeout"}
# Query options of a PostgreSQL URL that SQLAlchemy's asyncpg dialect takes itself
# (besides those ``asyncpg.connect`` takes).
DIALECT_OPTIONS = frozenset({"prepared_statement_cache_size"})
# What ``?ssl=`` (or libpq's ``?sslmode=``) may say, as asyncpg reads it.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# asyncpg.connect arguments that a URL's text cannot give.
NOT_IN_URLS = frozenset({"dsn", "loop", "connection_class", "record_class", "server_settings"})
# asyncpg's numeric connect options: a URL's query gives them as text, which asyncpg
# does not convert ("?timeout=10" failed every connection with a TypeError).
ASYNCPG_NUMBERS: dict[str, type[int] | type[float]] = {
    "timeout": float,
    "command_timeout": float,
    "statement_cache_size": int,
    "max_cached_statement_lifetime": float,
    "max_cacheable_statement_size": int,
}


class BadDatabaseURL(ValueError):
    """``DATABASE_URL`` is not something Tessera can use; the message says why.

    A URL without a driver, or with another one, of a supported database is taken for
    Tessera's driver: ``sqlite:///x`` means ``sqlite+aiosqlite:///x``, ``postgres://``
    and ``postgresql+psycopg://`` mean ``postgresql+asyncpg://``, and libpq's
    ``?sslmode=``/``?connect_timeout=`` become asyncpg's ``?ssl=``/``?timeout=``."""


@dataclass(frozen=True)
class DatabaseTarget:
    url: URL

    @classmethod
    def parse(cls, text: str) -> DatabaseTarget:
        try:
            url = make_url(text)
        except ArgumentError:
            raise BadDatabaseURL(f"DATABASE_URL is not a database URL ({text!r}).") from None
        backend = url.get_backend_name()
        if backend in BACKEND_ALIASES:
            backend = BACKEND_ALIASES[backend]
            url = url.set(drivername=backend)
        if backend not in BACKENDS:
            scheme = text.split(":", 1)[0]
            raise BadDatabaseURL(f"DATABASE_URL uses {scheme!r}, which Tessera cannot use.")
        if backend == "sqlite" and url.database in (None, "", ":memory:"):
            raise BadDatabaseURL(
                "DATABASE_URL names an in-memory SQLite database, which the server's "
                "connections cannot share."
            )
        if backend == "sqlite" and "uri" in url.query:
            # The raw hot-path connections open the path itself: "file:x?mode=…" would
            # be a second, empty database beside the engine's.
            raise BadDatabaseURL(
                "DATABASE_URL: ?uri= (a SQLite file: URI) is not supported; give the "
                "file's path, as in sqlite:///path/to/tessera.sqlite3."
            )
        if backend == "sqlite" and url.get_driver_name() != "aiosqlite":
            url = url.set(drivername="sqlite+aiosqlite")
        if backend == "postgresql" and url.get_driver_name() != "asyncpg":
            url = url.set(drivername="postgresql+asyncpg")
        if backend == "postgresql":
            url = _asyncpg_names(url)
        target = cls(url)
        if target.backend == "postgresql":
            target.asyncpg_numbers()  # a bad number stops here, with its name
        else:
            target.sqlite_busy_timeout_ms()
        return target

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def sqlite_path(self) -> str | None:
        """The database file (query options such as ``?timeout=`` are not part of it);
        None on PostgreSQL."""
        if not self.is_sqlite or not self.url.database:
            return None
        return os.path.abspath(self.url.database)

    def asyncpg_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncpg.connect``/``create_pool``: what SQLAlchemy's
        own dialect would connect with (host, port, user, password, database, ssl …).

        ``prepared_statement_cache_size`` (SQLAlchemy's name, for PgBouncer users) becomes
        asyncpg's ``statement_cache_size``; options asyncpg does not know are left out.
        """
        import asyncpg
        from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

        # SQLAlchemy's dialect classes are not annotated (their __init__ and
        # create_connect_args take untyped keyword arguments).
        dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
        _, given = dialect.create_connect_args(self.url)  # type: ignore[no-untyped-call]
        arguments = dict(given)
        if "prepared_statement_cache_size" in arguments:
            arguments["statement_cache_size"] = int(arguments.pop("prepared_statement_cache_size"))
        arguments |= self.asyncpg_numbers()
        accepted = inspect.signature(asyncpg.connect).parameters
        return {key: value for key, value in arguments.items() if key in accepted}

    def sqlite_busy_timeout_ms(self) -> int | None:
        """How long a SQLite connection waits for another's lock, from the URL's
        ``?timeout=`` (seconds, as ``sqlite3.connect`` takes it); None when not given
        (``server.db.sqlite.BUSY_TIMEOUT_MS`` then)."""
        value = self.url.query.get("timeout")
        if not isinstance(value, str):
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 3600:
            raise BadDatabaseURL(
                f"DATABASE_URL: ?timeout= takes a number of seconds, not {value!r}."
            )
        return round(seconds * 1000)

    def asyncpg_numbers(self) -> dict[str, int | float]:
        """The numeric asyncpg options the URL's query sets (``?command_timeout=30``), as
        numbers."""
        numbers: dict[str, int | float] = {}
        for key, kind in ASYNCPG_NUMBERS.items():
            value = self.url.query.get(key)
            if isinstance(value, str):
                try:
                    numbers[key] = kind(value)
                except ValueError:
                    raise BadDatabaseURL(
                        f"DATABASE_URL: ?{key}= takes a number, not {value!r}."
                    ) from None
        return numbers


def _asyncpg_names(url: URL) -> URL:
    """``url``'s query in asyncpg's names (libpq's ``sslmode`` is asyncpg's ``ssl``);
    an option neither asyncpg nor SQLAlchemy's dialect takes is refused here, by name,
    rather than failing every connection with a ``TypeError``."""
    import asyncpg

    given = dict(url.query)
    renamed = {key: value for key, value in given.items() if key not in LIBPQ_NAMES}
    for key, value in given.items():
        if key in LIBPQ_NAMES:
            renamed.setdefault(LIBPQ_NAMES[key], value)  # asyncpg's own name wins
    accepted = set(inspect.signature(asyncpg.connect).parameters) | DIALECT_OPTIONS
    unknown = sorted(key for key in renamed if key not in accepted - NOT_IN_URLS)
    if unknown:
        raise BadDatabaseURL(
            f"DATABASE_URL: ?{unknown[0]}= is not an option of Tessera's PostgreSQL driver "
            "(asyncpg); it takes ssl (or sslmode), timeout (or connect_timeout), "
            "command_timeout, prepared_statement_cache_size and asyncpg.connect's others."
        )
    ssl = renamed.get("ssl")
    if ssl is not None and ssl not in SSL_MODES:
        raise BadDatabaseURL(
            f"DATABASE_URL: ?ssl= (or ?sslmode=) is {ssl!r}; use one of {', '.join(SSL_MODES)}."
        )
    if renamed == given:
        return url
    return url.set(query=renamed)
