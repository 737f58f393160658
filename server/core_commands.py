"""Core commands: serve, migrate, create-admin."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import shutil
import socket
import sys
from pathlib import Path

from sqlalchemy import select

from server import clock
from server.audit.log import changes, record, snapshot
from server.auth.passwords import hash_password, password_problem
from server.auth.reset import void_open_links
from server.auth.sessions import end_all
from server.checks import keyring
from server.cli import argument, command, port_number, positive_int
from server.config import load_settings
from server.database import utcnow
from server.db.engine import make_engine, make_sessionmaker
from server.db.target import DatabaseTarget
from server.members.models import Member
from server.members.status import refresh_status
from server.migrate import needs_upgrade, upgrade
from server.settings.store import load_settings as load_site_settings
from server.web.forms import EMAIL_RE, MAX_EMAIL
from server.web.text import visible_text

ADMIN_FACTS = ["is_superuser", "is_staff", "status", "deactivated_at", "locked_until"]


def has_register(url: str) -> bool:
    """Whether the database exists and has a schema (checked without making a file)."""
    path = DatabaseTarget.parse(url).sqlite_path
    if path is not None and not Path(path).exists():
        return False
    return not asyncio.run(_is_empty(url))


async def _is_empty(url: str) -> bool:
    from sqlalchemy import inspect

    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    await engine.dispose()
    return not names


@command("migrate", "Bring the database schema up to date.")
def migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    before, after = asyncio.run(upgrade(settings.database_url))
    if before == after:
        print(f"Database is up to date (at {', '.join(sorted(after))}): nothing to migrate.")
    else:  # the revisions that moved (a plugin's branch may not have)
        was = ", ".join(sorted(before - after)) or "an empty database"
        print(
            f"Database migrated from {was} to {', '.join(sorted(after - before))}; it is up to date."
        )
    return 0


def prepare_database(url: str) -> bool:
    """Migrate an empty database; refuse to start on one with pending migrations."""
    if asyncio.run(_is_empty(url)):
        print("Empty database: creating the schema.")
        asyncio.run(upgrade(url))
        return True
    if asyncio.run(needs_upgrade(url)):
        print(
            "The database schema is older than this version of Tessera (an upgrade without "
            "its migrations).\nRun `python manage.py migrate` first (once, from one machine; "
            "README, Upgrades).",
            file=sys.stderr,
        )
        return False
    return True


@command("serve", "Run the web server (and, inside it, the mail loop and nightly jobs).")
@argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
@argument("--port", type=port_number, default=8000, help="Port (default 8000).")
@argument("--workers", type=positive_int, default=1, help="Worker processes (default 1).")
@argument("--demo", action="store_true", help="Load the demo data first (idempotent).")
def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.checks.key_agreement import foreign_key_warning
    from server.cli import COMMANDS
    from server.mail.delivery import check_smtp_url
    from server.wallet.config import web_service_warning
    from server.web.protocol import TesseraHttpProtocol

    if "BASE_URL" not in os.environ:
        # Links in mail and the demo's card link point where this server listens (the
        # workers read it from the environment too).
        os.environ["BASE_URL"] = default_base_url(args.host, args.port)
    settings = load_settings()
    check_smtp_url(settings)
    if len(str(settings.secret_key)) < SECRET_KEY_MIN:
        print(
            f"Warning: SECRET_KEY is only {len(str(settings.secret_key))} characters; whoever "
            "guesses it can forge logins. Use a random one of 32 or more (README, Configuration).",
            file=sys.stderr,
        )
    wallet_warning = web_service_warning(settings.wallet, settings.base_url)
    if wallet_warning:
        print(wallet_warning, file=sys.stderr)
    problem = address_problem(args.host, args.port)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if not prepare_database(settings.database_url):
        return 1
    # Made before the workers start: the file to copy to the other machines exists
    # (README, "Running on PostgreSQL") before the first card is signed.
    keyring.ensure(settings.data_dir)
    keyring.read(settings.data_dir)  # one it cannot read stops serve here, not a request
    warning = foreign_key_warning(settings.database_url, settings.data_dir)
    if warning:
        print(warning, file=sys.stderr)
    if args.demo:
        COMMANDS["demo"].handler(args)
    if args.workers > 1:
        share_request_metrics(settings.data_dir / "run" / "metrics")
    print(
        f"Tessera is listening on {listen_url(args.host, args.port)} (BASE_URL {settings.base_url})"
    )
    # Each worker sets up logging itself when it imports server.asgi (server.logs): the
    # same format in every worker, and Tessera's own access log instead of uvicorn's.
    uvicorn.run(
        "server.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        server_header=False,
        log_config=None,
        access_log=False,
        http=TesseraHttpProtocol,  # each response in one write, headers on uvicorn's own 400
        ws="none",  # no WebSocket route: a handshake is answered as the GET it is
    )
    return 0


SECRET_KEY_MIN = 32  # characters; secrets.token_urlsafe(48) gives 64


def default_base_url(host: str, port: int) -> str:
    """``BASE_URL`` when none is set: this machine's address on ``serve``'s port."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return listen_url(host, port).rstrip("/")


def listen_url(host: str, port: int) -> str:
    """Where ``serve`` listens, as an address a browser takes (IPv6 in brackets)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def address_problem(host: str, port: int) -> str | None:
    """Two lines when ``host:port`` cannot be listened on (uvicorn would start the app,
    log the error and exit 3 after "listening" was printed); None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"Cannot listen on {host}: {error.strerror}.\nCheck --host."
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (
                    f"Port {port} on {host} is already in use (another Tessera still running?).\n"
                    "Stop what listens there (ss -ltnp), or choose another --port."
                )
            if error.errno == errno.EACCES:
                return (
                    f"Not allowed to listen on port {port} (ports below 1024 need privileges).\n"
                    "Use a port above 1024 behind a reverse proxy, or choose another --port."
                )
            return f"Cannot listen on {host}:{port}: {error.strerror}.\nCheck --host and --port."
    return None


def share_request_metrics(directory: Path) -> None:
    """Workers publish their request counters here, so /metrics adds them all up."""
    from server.health.requests import SHARED_DIR_ENV

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[SHARED_DIR_ENV] = str(directory)


async def _create_admin(email: str, password: str) -> str:
    """Create the superuser, or restore an existing one's access completely.

    An existing member gets the password, superuser and staff, and is reactivated and
    unlocked if need be; every session they had ends (the password changed). One audit
    row says what changed.
    """
    settings = load_settings()
    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as db, db.begin():
        member = (
            await db.execute(select(Member).where(Member.email_key == email.lower()))
        ).scalar_one_or_none()
        if member is None:
            member = Member(email=email, email_key=email.lower(), sca_name="Administrator")
            db.add(member)
            verb = "Created"
            before: dict[str, object] = {}
        else:
            verb = "Updated"
            before = snapshot(member, ADMIN_FACTS)
            if member.is_deactivated:
                verb = "Reactivated"
            member.deactivated_at = None
            member.deactivation_reason = ""
            member.failed_login_attempts = 0
            member.locked_until = None
        member.password_hash = hash_password(password)
        member.is_superuser = True
        member.is_staff = True
        refresh_status(member, clock.today(await load_site_settings(db)))
        await db.flush()
        await end_all(db, member.id, "password_set")
        await void_open_links(db, member.id, utcnow())
        old, new = changes(before, snapshot(member, ADMIN_FACTS))
        record(
            db,
            actor_id=None,
            action="member.create_admin",
            entity=member,
            member_id=member.id,
            before=old or None,
            after=new or None,
            note="manage.py create-admin",
        )
    await engine.dispose()
    return verb


@command("create-admin", "Create (or update) a superuser who can log in with a password.")
@argument("email", help="The address the admin logs in with.")
@argument("--password", required=True, help="At least 10 characters.")
def create_admin(args: argparse.Namespace) -> int:
    email = visible_text(args.email).strip()
    problem = admin_email_problem(email) or password_problem(args.password)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    settings = load_settings()
    if not prepare_database(settings.database_url):
        return 1
    verb = asyncio.run(_create_admin(email, args.password))
    print(f"{verb} superuser {email}. Log in at {settings.base_url}/login")
    return 0


def admin_email_problem(email: str) -> str | None:
    """The login form's rule for an email: the admin must be able to log in with it
    (the form trims it) and be mailed a reset link."""
    if len(email.lower()) > MAX_EMAIL:
        return f"The email is too long: at most {MAX_EMAIL} characters.\nNothing was changed."
    if not EMAIL_RE.match(email):
        return (
            f"{email!r} is not a valid email address (like you@example.org).\n"
            "Nothing was changed: give the address the admin logs in with."
        )
    return None
