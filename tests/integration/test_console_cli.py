"""``sealwright operators``: the first owner comes from the CLI; every change is an audit
event; bad input is refused with a clear message and changes nothing."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner, Result

from sealwright.cli.console_cmds import operators
from sealwright.config import Settings
from sealwright.services.admin import create_tenant
from sealwright.services.runtime import Runtime
from tests.integration.helpers import events

ISSUER = "https://login.acme.example"


@pytest.fixture
def cli_settings(settings: Settings) -> Settings:
    rt = Runtime.build(settings)
    try:
        with rt.db.transaction() as db:
            create_tenant(rt, db, "Acme")
    finally:
        rt.close()
    return settings


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(operators, list(args), obj={"settings": settings})


def ledger(settings: Settings, tag: str) -> list[dict[str, object]]:
    rt = Runtime.build(settings)
    try:
        return events(rt, tag)
    finally:
        rt.close()


def _add(settings: Settings, email: str, subject: str, *roles: str) -> str:
    role_args = [a for r in roles for a in ("--role", r)]
    result = run(
        settings,
        "add",
        "--tenant",
        "Acme",
        "--email",
        email,
        "--issuer",
        ISSUER,
        "--subject",
        subject,
        *role_args,
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"^operator ([0-9a-f]{32}) ", result.output, re.M)
    assert found is not None, result.output
    return found.group(1)


def json_of(result: Result) -> list[dict[str, object]]:
    """The JSON document of the output (the runtime's start-up log lines come first)."""
    start = result.output.index("\n[") + 1
    data: list[dict[str, object]] = json.loads(result.output[start:])
    return data


def test_bootstrap_owner_then_roles_and_disable(cli_settings: Settings) -> None:
    owner = _add(cli_settings, "ada@acme.example", "00u1", "owner")
    sender = _add(cli_settings, "bob@acme.example", "00u2", "sender", "auditor")
    listed = json_of(run(cli_settings, "list", "--tenant", "Acme", "--json"))
    assert [(o["id"], o["roles"], o["subject"]) for o in listed] == [
        (owner, ["owner"], "00u1"),
        (sender, ["auditor", "sender"], "00u2"),
    ]
    changed = run(cli_settings, "roles", "--tenant", "Acme", sender, "--role", "reviewer")
    assert changed.exit_code == 0, changed.output
    disabled = run(cli_settings, "disable", "--tenant", "Acme", sender)
    assert disabled.exit_code == 0, disabled.output
    text = run(cli_settings, "list", "--tenant", "Acme").output
    assert "disabled" in text
    assert "reviewer" in text

    added = ledger(cli_settings, "operator:operator:added")
    assert [e["data"] for e in added] == [
        {"operator": owner, "issuer": ISSUER, "roles": ["owner"]},
        {"operator": sender, "issuer": ISSUER, "roles": ["auditor", "sender"]},
    ]
    assert all(e["actor"] == "operator:cli" for e in added)
    roles = ledger(cli_settings, "operator:operator:roles-changed")
    assert roles[0]["data"] == {
        "operator": sender,
        "from": ["auditor", "sender"],
        "to": ["reviewer"],
    }
    assert len(ledger(cli_settings, "operator:operator:disabled")) == 1
    assert "@acme.example" not in json.dumps(added)  # no addresses in the ledger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "admin"], "Invalid value for '--role'"),
        (["--issuer", "http://idp.example.com"], "https URL"),
        (["--issuer", "not a url"], "https URL"),
        (["--email", "nobody"], "valid email"),
        (["--tenant", "Nope"], "no tenant named"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    cli_settings: Settings, args: list[str], message: str
) -> None:
    base = {
        "--tenant": "Acme",
        "--email": "ada@acme.example",
        "--issuer": ISSUER,
        "--subject": "00u1",
        "--role": "owner",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for k, v in base.items() for x in (k, v)]
    result = run(cli_settings, "add", *flat)
    assert result.exit_code != 0
    assert message in result.output
    assert ledger(cli_settings, "operator:operator:added") == []


def test_same_identity_twice_and_the_last_owner_are_refused(cli_settings: Settings) -> None:
    owner = _add(cli_settings, "ada@acme.example", "00u1", "owner")
    again = run(
        cli_settings,
        "add",
        "--tenant",
        "Acme",
        "--email",
        "other@acme.example",
        "--issuer",
        ISSUER,
        "--subject",
        "00u1",
        "--role",
        "sender",
    )
    assert again.exit_code != 0
    assert "exists already" in again.output
    demote = run(cli_settings, "roles", "--tenant", "Acme", owner, "--role", "sender")
    assert demote.exit_code != 0
    assert "last active owner" in demote.output
    disable = run(cli_settings, "disable", "--tenant", "Acme", owner)
    assert disable.exit_code != 0
    assert "last active owner" in disable.output
    assert ledger(cli_settings, "operator:operator:roles-changed") == []
    assert ledger(cli_settings, "operator:operator:disabled") == []
    # With a second owner, the first can step down.
    _add(cli_settings, "grace@acme.example", "00u3", "owner")
    assert run(cli_settings, "roles", "--tenant", "Acme", owner, "--role", "auditor").exit_code == 0
