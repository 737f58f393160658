"""The registration form's accessibility (issue 15, item 5): required fields marked, every
error tied to its field, an error summary that takes the focus, autocomplete on personal
fields, and the terms link from an app setting."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.applicant_fixtures import set_site
from tests.factories import csrf_from, make_branch

REQUIRED = {"sca_name", "first_name", "last_name", "email", "birth_month", "birth_year",
            "branch_id", "accept_terms"}  # fmt: skip
AUTOCOMPLETE = {
    "sca_name": "nickname",
    "first_name": "given-name",
    "middle_name": "additional-name",
    "last_name": "family-name",
    "email": "email",
    "birth_month": "bday-month",
    "birth_year": "bday-year",
    "street_address": "street-address",
    "city": "address-level2",
    "state": "address-level1",
    "zip": "postal-code",
    "phone": "tel",
}


class Controls(HTMLParser):
    """Every form control's attributes by name, the labels by ``for``, and all ids."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, dict[str, str | None]] = {}
        self.labels: dict[str, str] = {}
        self.ids: set[str] = set()
        self._label: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls[a.get("name") or ""] = a
        if tag == "label":
            self._label = a.get("for")
            self.labels[self._label or ""] = ""

    def handle_data(self, data):
        if self._label is not None:
            self.labels[self._label] += data

    def handle_endtag(self, tag):
        if tag == "label":
            self._label = None


def _parse(text: str) -> Controls:
    parser = Controls()
    parser.feed(text)
    return parser


async def test_required_fields_are_marked_and_personal_fields_autocomplete(client, db):
    await make_branch(db)
    await db.commit()
    page = await client.get("/register")
    form = _parse(page.text)
    for name in REQUIRED:
        control = form.controls[name]
        assert "required" in control, name
        assert "*" in form.labels[f"f-{name}"] or name == "accept_terms", name
    assert re.search(r"<legend>Terms of membership <span[^>]*>\*</span>", page.text)
    assert "required" not in form.controls["middle_name"]
    assert "*" not in form.labels["f-middle_name"]
    for name, token in AUTOCOMPLETE.items():
        assert form.controls[name].get("autocomplete") == token, name


async def test_every_error_is_tied_to_its_field_and_summarised(client, db):
    await make_branch(db)
    await db.commit()
    token = await csrf_from(client, "/register")
    response = await client.post(
        "/register", data={"csrf_token": token, "email": "nope", "birth_month": "13"}
    )
    assert response.status_code == 400
    form = _parse(response.text)
    wrong = {"sca_name", "first_name", "last_name", "email", "birth_month", "birth_year",
             "branch_id", "accept_terms"}  # fmt: skip
    for name in wrong:
        control = form.controls[name]
        assert control.get("aria-invalid") == "true", name
        described = (control.get("aria-describedby") or "").split()
        assert f"e-{name}" in described, name
        assert all(i in form.ids for i in described), name
    for name in ("middle_name", "city"):
        assert "aria-invalid" not in form.controls[name]
    # A summary at the top lists them, links to each field and takes the focus on load.
    summary = re.search(r'<div class="flash flash-error error-summary"[^>]*>(.*?)</div>',
                        response.text, re.S)  # fmt: skip
    assert summary
    assert 'tabindex="-1" autofocus' in summary.group(0)
    for name in wrong:
        assert f'href="#f-{name}"' in summary.group(1), name
    assert "<title>Please correct the form:" in response.text


async def test_the_summary_lists_the_errors_in_the_forms_order(client, db):
    """Phone is checked before the birth year but comes after it on the form: the summary
    reads top to bottom like the form (it listed Phone first)."""
    branch = await make_branch(db)
    await db.commit()
    token = await csrf_from(client, "/register")
    data = {"csrf_token": token, "sca_name": "Test Person", "first_name": "T", "last_name": "P",
            "email": "not-an-email@x", "birth_month": "4", "birth_year": "1890",
            "branch_id": str(branch.id), "phone": "abc", "accept_terms": "on"}  # fmt: skip
    response = await client.post("/register", data=data)
    assert response.status_code == 400
    summary = re.search(r'id="error-summary".*?</ul>', response.text, re.S)
    assert summary
    linked = re.findall(r'href="#f-(\w+)"', summary.group(0))
    assert linked == ["email", "birth_year", "phone"]


async def test_the_terms_link_comes_from_a_setting(client, db):
    page = await client.get("/register")
    assert "Read the terms of membership" not in page.text
    await set_site(db, "terms_url", "https://example.org/terms-2026")
    page = await client.get("/register")
    link = re.search(r'<a href="https://example.org/terms-2026"[^>]*>Read the terms', page.text)
    assert link and 'rel="noopener noreferrer"' in link.group(0)
    assert 'aria-describedby="h-accept_terms"' in page.text
