"""The anonymous check page from fragments is the page the template renders, escaped."""

from __future__ import annotations

import datetime as dt

import pytest

from server.checks.answer import CheckPage
from server.checks.decide import Verdict
from server.checks.lookup import MemberFacts
from server.checks.results import KEYS, result
from server.web.templating import make_templates

HOSTILE = '<script>alert("x")</script> & Co'


def _member(sca_name: str, branch_name: str) -> MemberFacts:
    return MemberFacts(
        member_id=7,
        public_id="00ff",
        sca_name=sca_name,
        branch_name=branch_name,
        status="verified",
        membership_expires_on=dt.date(2027, 5, 1),
        deleted=False,
        revoked_before=None,
    )


MEMBERS = {
    "no member": None,
    "name and branch": _member("Aelfric of the Lake", "Barony of the Lake"),
    "hostile name and branch": _member(HOSTILE, HOSTILE),
    "no SCA name": _member("", "Barony of the Lake"),
    "no branch": _member("Aelfric of the Lake", ""),
}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("who", MEMBERS)
def test_fragments_give_the_templates_page(key, who):
    page = CheckPage(make_templates().env)
    verdict = Verdict(result(key), f"Reason with {HOSTILE} until 2027-05-01.", member=MEMBERS[who])
    here = "/check/AbC-123_x"
    expected = page.template.render(verdict=verdict, here=here)
    assert page.render(verdict, {}, here) == expected
    assert page.render(verdict, {}, here) == expected  # and again, from the prepared fragments
    assert "<script>" not in expected and "&lt;script&gt;" in expected
    assert f'href="/login?next={here}"' in expected
    assert '<span class="date">2027-05-01</span>' in expected


def test_the_log_in_link_returns_to_this_check_whatever_its_address():
    page = CheckPage(make_templates().env)
    verdict = Verdict(result("unknown"), "This is not a Tessera check code.")
    html = page.render(verdict, {}, '/check/a"b<c>&d e')
    assert 'href="/login?next=/check/a%22b%3Cc%3E%26d%20e"' in html


def test_a_second_member_of_the_same_shape_gets_their_own_texts():
    page = CheckPage(make_templates().env)
    first = Verdict(result("ok"), "Until 2027-05-01.", member=_member("Aelfric", "Lake"))
    second = Verdict(result("ok"), "Until 2028-01-31.", member=_member("Brigid", "Hill"))
    page.render(first, {}, "/check/first")
    html = page.render(second, {}, "/check/second")
    assert "next=/check/second" in html and "/check/first" not in html
    assert "Brigid" in html and "Hill" in html and "2028-01-31" in html
    assert "Aelfric" not in html and "Lake" not in html


def test_a_template_showing_more_member_fields_is_rendered_in_full(tmp_path):
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "check.html").write_text(
        "{{ verdict.result.word }} {{ verdict.member.sca_name }} {{ verdict.member.public_id }}"
    )
    page = CheckPage(make_templates(tmp_path).env)
    verdict = Verdict(result("ok"), "Fine.", member=_member("Aelfric", "Lake"))
    assert page.render(verdict, {}) == "OK Aelfric 00ff"
