"""The command line refuses counts that would do nothing or nonsense, with a usage error."""

from __future__ import annotations

import importlib

import pytest

import manage
from server.cli import build_parser


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
