"""`sealwright policy check` / `policy explain`, run exactly as an operator would: no
database, no runtime; the default tiers, an invalid file refused with its location, a
decision explained from signals (file, stdin, an offline geolocation database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from tests.unit.risk.risk_support import build_mmdb

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALWRIGHT, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        # A database URL that cannot work proves that nothing touches the database.
        env={**os.environ, "SEALWRIGHT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize(
    ("score", "channels", "review"),
    [
        ("10", ["email-otp", "sms-otp"], False),
        ("40", ["email-otp", "phone-callback"], False),
        ("80", ["video", "qr-device", "manual-review"], True),
    ],
)
def test_explain_default_tiers(
    tmp_path: Path, score: str, channels: list[str], review: bool
) -> None:
    done = run("policy", "explain", "--score", score, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)["decision"]
    assert decision["all_of"] == channels
    assert decision["manual_review"] is review
    assert len(decision["policy_hash"]) == 64
    assert list(tmp_path.iterdir()) == []  # nothing written (no data directory, no database)


def test_check_valid_and_invalid(tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text(
        resources.files("sealwright.risk").joinpath("default_policy.yaml").read_text("utf-8")
    )
    done = run("policy", "check", str(good))
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text()
        .replace("    - min: 21\n", "    - min: 25\n", 1)  # the default class only
        .replace("  sms-otp: {ttl_seconds: 180", "  sms-otp: {ttl_seconds: 900")
    )
    done = run("policy", "check", str(bad))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert any(
        line.startswith(f"{bad}:18:")
        and "document_classes.default[1].min: gap: scores 21-24" in line
        for line in lines
    ), done.stderr
    assert any(
        ": channels.sms-otp.ttl_seconds: sms-otp TTL must be 60-300 s" in line for line in lines
    ), done.stderr

    as_json = run("policy", "check", "--json", str(bad))
    assert as_json.returncode == 1
    found = json.loads(as_json.stdout)["problems"]
    assert {p["path"] for p in found} == {
        "document_classes.default[1].min",
        "channels.sms-otp.ttl_seconds",
    }
    assert all(p["line"] > 1 and p["column"] > 1 for p in found)

    refused = run("policy", "explain", "--policy", str(bad), "--score", "10", "--json")
    assert refused.returncode == 1
    assert f"{bad}:18:" in refused.stderr


def test_explain_signals_with_policy_and_geoip(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "format: sealwright-risk-policy/1\nversion: 3\ndocument_classes:\n  default:\n"
        "    - {min: 0, max: 40, all_of: [email-otp]}\n"
        "    - {min: 41, max: 100, all_of: [email-otp, video]}\n"
        "signals:\n  geolocation: {deny_countries: [AU], deny_points: 30}\n"
        "  ip-reputation:\n    lists: [{name: tor, points: 20, file: tor.txt}]\n"
    )
    (tmp_path / "tor.txt").write_text("198.51.100.0/24\n")
    context = {
        "request": {"at": "2026-11-22T12:00:00Z", "ip": "198.51.100.4"},
        "previous": [{"at": "2026-11-22T11:00:00Z", "ip": "192.0.2.1"}],
        "document_class": "payroll",
    }
    signals = tmp_path / "ctx.json"
    signals.write_text(json.dumps(context))
    mmdb = build_mmdb(tmp_path / "geo.mmdb")
    args = ("policy", "explain", "--policy", str(policy), "--geoip-db", str(mmdb), "--json")
    done = run(*args, "--signals", str(signals))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    contributions = {s["name"]: s["contribution"] for s in out["assessment"]["signals"]}
    # tor list 20 + AU denied 30 + Berlin->Sydney in an hour 35 + DE->AU 10 + payroll 15
    assert contributions["ip-reputation"] == 20
    assert contributions["geolocation"] == 30
    assert contributions["impossible-travel"] == 45
    assert contributions["document"] == 15
    assert out["assessment"]["score"] == 100
    assert out["decision"]["all_of"] == ["email-otp", "video"]
    assert out["decision"]["policy_version"] == 3
    assert out["decision"]["document_class"] == "payroll"
    assert "198.51.100.4" not in done.stdout

    from_stdin = run(*args, "--signals", "-", stdin=json.dumps(context))
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert json.loads(from_stdin.stdout) == out

    without_geo = run(
        "policy", "explain", "--policy", str(policy), "--signals", str(signals), "--json"
    )
    assert json.loads(without_geo.stdout)["assessment"]["score"] == 35  # tor 20 + payroll 15


def test_explain_usage_errors(tmp_path: Path) -> None:
    both = run("policy", "explain", "--score", "10", "--signals", "-", stdin="{}")
    assert both.returncode == 2
    assert "exactly one" in both.stderr
    neither = run("policy", "explain")
    assert neither.returncode == 2
    out_of_range = run("policy", "explain", "--score", "101")
    assert out_of_range.returncode == 2
    broken = tmp_path / "ctx.json"
    broken.write_text('{"request": {"at": "never"}}')
    bad_ctx = run("policy", "explain", "--signals", str(broken))
    assert bad_ctx.returncode == 1
    assert "request.at" in bad_ctx.stderr
    text = run("policy", "explain", "--score", "40")
    assert text.returncode == 0
    assert "required: email-otp + phone-callback" in text.stdout
