"""``sealwright credentials report`` (B1; seed 000: "audit your current API integration for
long-lived tokens"): which API clients hold credentials that are

- **long-lived**: a secret older than the configured maximum age (rotate it);
- **unused**: not used within the window (never used counts from the client's creation);
- **over-privileged**: holding scopes or folders it has not exercised within the window,
  or unrestricted folder access while it used only some of the tenant's folders.

Usage comes from ``api_client_usage`` (services/client_usage.py), which records each
scope and folder as it is exercised, at most once a minute -- cheaper and more complete
than deriving it from the ledger, which has no events for reads. A client is judged on
over-privilege only once it has existed for a whole window. Revoked clients are listed
but never flagged: they can no longer be used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.storage.models import ApiClient, ApiClientUsage, Envelope, Tenant


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # long-lived | unused | over-privileged
    detail: str


@dataclass(frozen=True, slots=True)
class ClientReport:
    client: str
    tenant: str
    name: str
    revoked: bool
    secret_age_days: int
    last_used_at: datetime | None
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client,
            "tenant": self.tenant,
            "name": self.name,
            "revoked": self.revoked,
            "secret_age_days": self.secret_age_days,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "findings": [{"kind": f.kind, "detail": f.detail} for f in self.findings],
        }


def credentials_report(
    session: Session, *, now: datetime, max_secret_age_days: int, unused_days: int
) -> list[ClientReport]:
    window_start = now - timedelta(days=unused_days)
    usage: dict[str, dict[str, datetime]] = {}
    for row in session.execute(select(ApiClientUsage)).scalars():
        usage.setdefault(row.client_id, {})[row.item] = row.last_used_at
    tenant_folders: dict[str, set[str]] = {}
    folders_q = select(Envelope.tenant_id, Envelope.folder).distinct()
    for tenant_id, folder in session.execute(folders_q):
        tenant_folders.setdefault(tenant_id, set()).add(folder)
    q = select(ApiClient, Tenant.name).join(Tenant, Tenant.id == ApiClient.tenant_id)
    reports = []
    for client, tenant_name in session.execute(q.order_by(Tenant.name, ApiClient.created_at)):
        age = now - client.secret_created_at
        report = ClientReport(
            client=client.id,
            tenant=tenant_name,
            name=client.name,
            revoked=client.revoked_at is not None,
            secret_age_days=age.days,
            last_used_at=client.last_used_at,
        )
        reports.append(report)
        if report.revoked:
            continue
        if age > timedelta(days=max_secret_age_days):
            report.findings.append(
                Finding(
                    "long-lived",
                    f"secret is {age.days} days old (maximum {max_secret_age_days}); rotate it",
                )
            )
        last = client.last_used_at
        if (last or client.created_at) < window_start:
            detail = (
                f"never used in the {age.days} days since its creation"
                if last is None
                else f"not used for {(now - last).days} days"
            )
            report.findings.append(Finding("unused", f"{detail}; revoke it if unneeded"))
            continue  # everything it holds is unused: over-privilege says nothing more
        if client.created_at > window_start:
            continue  # too young to judge what it needs
        used = {item for item, when in usage.get(client.id, {}).items() if when >= window_start}
        idle_scopes = sorted(s for s in client.scopes.split() if f"scope:{s}" not in used)
        if idle_scopes:
            report.findings.append(
                Finding(
                    "over-privileged",
                    f"scopes not used in {unused_days} days: {' '.join(idle_scopes)}",
                )
            )
        used_folders = {item.split(":", 1)[1] for item in used if item.startswith("folder:")}
        if client.folders is not None:
            idle = sorted(set(client.folders.split()) - used_folders)
            if idle:
                report.findings.append(
                    Finding(
                        "over-privileged",
                        f"folders not used in {unused_days} days: {' '.join(idle)}",
                    )
                )
        else:
            existing = tenant_folders.get(client.tenant_id, set())
            if used_folders and used_folders < existing:
                report.findings.append(
                    Finding(
                        "over-privileged",
                        "may touch every folder but used only "
                        f"{' '.join(sorted(used_folders))}; restrict it to those",
                    )
                )
    return reports
