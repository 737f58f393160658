"""The command line refuses counts that would do nothing or nonsense, with a usage error."""

from __future__ import annotations

import argparse
import importlib
import os

import pytest

import manage
from server.cli import build_parser
from tests.live import run_manage


@pytest.fixture(scope="module")
def parser():
    for name in manage.COMMAND_MODULES:
        importlib.import_module(name)
    return build_parser()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send-mail", "--rounds", "-1"], "--rounds: must be at least 1, not -1"),
        (["send-mail", "--rounds", "0"], "--rounds: must be at least 1, not 0"),
        (["send-mail", "--rounds", "many"], "--rounds: expected a whole number, not 'many'"),
        (["serve", "--workers", "0"], "--workers: must be at least 1, not 0"),
        (["serve", "--port", "70000"], "--port: a port is at most 65535, not 70000"),
        (["bench", "--members", "-5"], "--members: must be at least 1, not -5"),
    ],
)
def test_a_count_below_one_is_a_usage_error(parser, capsys, argv, message):
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_good_counts_pass(parser):
    args = parser.parse_args(["send-mail", "--rounds", "3"])
    assert args.rounds == 3
    assert parser.parse_args(["serve", "--port", "8080", "--workers", "2"]).port == 8080


@pytest.mark.parametrize(
    "command",
    [["weekly-recap"], ["send-mail"], ["issue-card", "a@example.org"], ["issue-cards"]],
)
def test_commands_on_a_new_data_dir_migrate_it_like_serve(tmp_path, command, sqlite_only):
    """An operator's first command on a new server need not be serve: these answered
    "Tessera could not start: OperationalError: no such table …" on an empty database
    (serve, nightly, demo and create-admin migrate it first)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env["TESSERA_DATA_DIR"] = str(tmp_path / "data")
    done = run_manage(env, *command)
    assert "Empty database: creating the schema." in done.stdout, done.stdout + done.stderr
    assert "could not start" not in done.stderr and "Traceback" not in done.stderr
    assert done.returncode in (0, 1, 2)  # each command's own answer on an empty register


def test_every_option_of_every_command_says_what_it_takes(parser):
    """`manage.py COMMAND --help` explains each option (serve's listed bare --host, --port
    and --workers, without their defaults)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bare = [
        f"{name} {option.dest}"
        for name, command in commands.choices.items()
        for option in command._actions
        if not option.help
    ]
    assert not bare, bare
