"""Seeded ServiceNow-style incidents that live on a clock of their own.

Each incident is drawn with its whole life planned ahead (picked up by a team, maybe put on hold,
resolved, closed days later); the store's clock decides how much of that plan has happened. Moving the
clock forward (``advance``) applies the steps that fell due, stamping ``sys_updated_on`` with their
time, and opens new incidents at the rate the history was drawn at. The same seed and the same calls
give the same data, byte for byte.

Values are strings as the Table API gives them (``"2026-03-04 10:12:55"``, UTC); timestamps of steps
that have not happened are null.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_CLOCK = datetime(2026, 3, 1, 8, 0, 0)  # UTC, naive as ServiceNow's strings are
HISTORY_DAYS = 60
FIRST_NUMBER = 10001

STATES = ("new", "in_progress", "on_hold", "resolved", "closed")
FIELDS = (
    "sys_id",
    "number",
    "short_description",
    "category",
    "impact",
    "urgency",
    "priority",
    "state",
    "assignment_group",
    "opened_at",
    "resolved_at",
    "closed_at",
    "close_code",
    "sys_created_on",
    "sys_updated_on",
    "sys_mod_count",
)

Record = dict[str, Any]

# ServiceNow derives priority from impact and urgency (1 = high) with this matrix.
_PRIORITY = {(1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3, (2, 3): 4, (3, 2): 4, (3, 3): 5}
_FIRST_RESPONSE_HOURS = {1: 0.15, 2: 0.5, 3: 2.0, 4: 6.0, 5: 12.0}
_RESOLUTION_HOURS = {1: 4.0, 2: 12.0, 3: 48.0, 4: 96.0, 5: 168.0}
_CLOSE_CODES = (
    ("Solved (Permanently)", 70),
    ("Solved (Work Around)", 20),
    ("Not Solved (Not Reproducible)", 7),
    ("Closed/Resolved by Caller", 3),
)

_SITES = ("Lyon Part-Dieu", "Paris La Défense", "Nantes", "Lille", "Toulouse Blagnac", "Bordeaux", "Rennes")
_APPS = ("SAP ERP", "Salesforce", "Workday", "Teams", "SharePoint", "Jira", "the HR portal", "the expense tool")
_DATABASES = ("ORDERS-PRD", "CRM-PRD", "DWH", "BILLING-PRD", "PAYROLL")
# Callers by directory login, as the service desk types them into the summaries.
CALLERS_LOGINS = (
    "j.martin", "a.bernard", "c.dubois", "l.thomas", "s.robert", "m.petit", "n.durand", "e.leroy", "p.moreau"
)  # fmt: skip
_VENDORS = ("Orange Business", "OVHcloud", "Atos", "Capgemini", "the bank")
_PRINTERS = ("PRN-3F-EAST", "PRN-2F-WEST", "PRN-RECEPTION", "PRN-LAB-01")
_SHARES = (r"\\fs01\finance", r"\\fs02\marketing", r"\\fs01\legal", r"\\fs03\engineering")
_HOSTS = ("intranet.corp.local", "git.corp.local", "erp.corp.local", "vpn.corp.local")

# category: (weight, specialist team, short description templates)
_CATEGORIES: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "network": (
        18,
        "Network Ops",
        (
            "VPN disconnects every few minutes for {site} users",
            "Wi-Fi unavailable on floor {floor} at {site}",
            "Slow access to {app} from {site}",
            "Site link down between {site} and the datacentre",
            "DNS resolution failing for {host}",
            "Firewall blocking outbound traffic to the {vendor} portal",
        ),
    ),
    "software": (
        28,
        "Application Support",
        (
            "{app} crashes when exporting a report",
            "Cannot install the latest {app} update",
            "{app} shows error 500 after login",
            "Licence expired for {app} on {user}'s laptop",
            "{app} very slow since this morning",
            "Scheduled job in {app} did not run overnight",
        ),
    ),
    "hardware": (
        17,
        "Desktop Support",
        (
            "Laptop does not boot after the update ({user})",
            "Docking station does not detect external monitors",
            "Printer {printer} jams on every job",
            "Keyboard and mouse unresponsive at desk {floor}-{desk}",
            "Battery drains in under an hour on {user}'s laptop",
            "Meeting room screen on floor {floor} shows no signal",
        ),
    ),
    "database": (
        8,
        "DBA",
        (
            "Replication lag above threshold on {db}",
            "Nightly backup of {db} failed",
            "Deadlocks on {db} during the batch window",
            "Tablespace almost full on {db}",
            "Slow queries on the {db} reporting replica",
        ),
    ),
    "access": (
        20,
        "Identity & Access",
        (
            "Password reset for {user}",
            "Account locked out after MFA change ({user})",
            "Access to {app} for a new starter",
            "Cannot open shared drive {share}",
            "SSO login loop on {app}",
        ),
    ),
    "email": (
        9,
        "Messaging",
        (
            "Mailbox full for {user}",
            "Emails to {vendor} bounce with a 550 error",
            "Outlook cannot connect to Exchange",
            "Shared calendar not syncing on mobile",
            "Phishing email reported by {user}",
        ),
    ),
}
TRIAGE_GROUP = "Service Desk"


def format_timestamp(moment: datetime) -> str:
    return moment.strftime(TIMESTAMP_FORMAT)


@dataclass
class _Step:
    at: datetime
    changes: Record


@dataclass
class _Incident:
    record: Record
    plan: list[_Step]
    applied: int = 0  # how many steps of the plan have happened

    def apply_due(self, clock: datetime) -> bool:
        """Apply the steps due by ``clock``; True when the record changed."""
        changed = False
        while self.applied < len(self.plan) and self.plan[self.applied].at <= clock:
            step = self.plan[self.applied]
            self.record.update(step.changes)
            self.record["sys_updated_on"] = format_timestamp(step.at)
            self.record["sys_mod_count"] = str(int(self.record["sys_mod_count"]) + 1)
            self.applied += 1
            changed = True
        return changed


@dataclass(frozen=True)
class Advance:
    """What a move of the clock did."""

    clock: str
    opened: list[str] = field(default_factory=list)  # sys_ids of new incidents
    updated: list[str] = field(default_factory=list)  # sys_ids of existing incidents that changed

    @property
    def changed(self) -> set[str]:
        return set(self.opened) | set(self.updated)

    def as_dict(self) -> Record:
        return {
            "clock": self.clock,
            "opened": len(self.opened),
            "updated": len(self.updated),
            "changed": sorted(self.changed),
        }


class QueryError(ValueError):
    """An encoded query the service cannot answer (unknown field, unsupported operator)."""


_OPERATORS = (">=", "<=", "!=", ">", "<", "=")
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    ">=": lambda value, wanted: value >= wanted,
    "<=": lambda value, wanted: value <= wanted,
    "!=": lambda value, wanted: value != wanted,
    ">": lambda value, wanted: value > wanted,
    "<": lambda value, wanted: value < wanted,
    "=": lambda value, wanted: value == wanted,
}


@dataclass(frozen=True)
class Query:
    """A parsed ``sysparm_query``: conditions ANDed by ``^``, then ``ORDERBY``/``ORDERBYDESC`` fields."""

    conditions: tuple[tuple[str, str, str], ...] = ()
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)

    @classmethod
    def parse(cls, text: str, fields: Sequence[str]) -> Query:
        conditions: list[tuple[str, str, str]] = []
        order: list[tuple[str, bool]] = []
        for term in (part for part in text.split("^") if part):
            if term.startswith("ORDERBYDESC"):
                order.append((_known(term[len("ORDERBYDESC") :], fields), True))
                continue
            if term.startswith("ORDERBY"):
                order.append((_known(term[len("ORDERBY") :], fields), False))
                continue
            if term in ("NQ", "EQ") or term.startswith("OR"):
                raise QueryError(f"'{term}' is not supported by this service (only AND-ed conditions)")
            for operator in _OPERATORS:
                name, found, value = term.partition(operator)
                if found:
                    conditions.append((_known(name, fields), operator, value))
                    break
            else:
                raise QueryError(f"cannot read the condition '{term}' (expected field, operator, value)")
        return cls(tuple(conditions), tuple(order))

    def matches(self, record: Record) -> bool:
        for name, operator, wanted in self.conditions:
            value = record.get(name)
            if value is None:
                if operator == "!=":
                    continue
                return False
            if not _COMPARE[operator](str(value), wanted):
                return False
        return True

    def sort(self, records: list[Record]) -> list[Record]:
        # Stable sorts from the last key to the first give a multi-key order with mixed directions;
        # sys_id last makes the order total, so offsets are reproducible.
        ordered = sorted(records, key=lambda record: record["sys_id"])
        for name, descending in reversed(self.order):
            ordered.sort(key=lambda record, name=name: record.get(name) or "", reverse=descending)  # type: ignore[misc]
        return ordered


def _known(name: str, fields: Sequence[str]) -> str:
    if name not in fields:
        raise QueryError(f"unknown field '{name}'")
    return name


class IncidentStore:
    """The incident table and its clock; every method is safe to call from the server's threads."""

    def __init__(self, *, seed: int = 42, incidents: int = 500, clock: datetime = DEFAULT_CLOCK) -> None:
        if incidents < 0:
            raise ValueError("incidents must be zero or more")
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._version = 0  # bumped by every change, so cached orders are not reused stale
        self._sorted: dict[tuple[tuple[str, bool], ...], tuple[int, list[Record], list[str]]] = {}
        self.clock = clock.replace(microsecond=0)
        self._incidents: dict[str, _Incident] = {}
        self._extra_fields: list[str] = []
        self._next_number = FIRST_NUMBER
        # New incidents keep coming at the rate the history was drawn at (at least a few a day).
        self.hourly_rate = max(incidents / (HISTORY_DAYS * 24), 0.25)
        history_start = self.clock - timedelta(days=HISTORY_DAYS)
        opened = sorted(
            history_start + timedelta(seconds=self._random.uniform(0, HISTORY_DAYS * 86400)) for _ in range(incidents)
        )
        for moment in opened:
            self._open(moment)
        for incident in self._incidents.values():
            incident.apply_due(self.clock)

    # --- reading ---

    @property
    def fields(self) -> tuple[str, ...]:
        with self._lock:
            return FIELDS + tuple(self._extra_fields)

    def __len__(self) -> int:
        with self._lock:
            return len(self._incidents)

    def get(self, sys_id: str) -> Record | None:
        with self._lock:
            incident = self._incidents.get(sys_id)
            return dict(incident.record) if incident else None

    def records(self) -> list[Record]:
        """Copies of every record, in creation order."""
        with self._lock:
            return [dict(incident.record) for incident in self._incidents.values()]

    def select(self, query: Query, offset: int = 0, limit: int | None = None) -> tuple[int, list[Record]]:
        """How many records match ``query``, and copies of those in ``[offset, offset + limit)`` of its order."""
        with self._lock:
            ordered, leading = self._ordered(query.order)
            conditions = list(query.conditions)
            start = 0
            # A client paging on its cursor asks ``field>=value^ORDERBYfield`` again and again: a binary search
            # in the sorted table answers it without scanning 50,000 records per page.
            if query.order and not query.order[0][1]:
                for position, (name, operator, wanted) in enumerate(conditions):
                    if name == query.order[0][0] and operator in (">=", ">") and wanted:
                        start = (bisect.bisect_left if operator == ">=" else bisect.bisect_right)(leading, wanted)
                        del conditions[position]
                        break
            rest = Query(tuple(conditions))
            matching = ordered[start:] if not conditions else [r for r in ordered[start:] if rest.matches(r)]
            window = matching[offset:] if limit is None else matching[offset : offset + limit]
            return len(matching), [dict(record) for record in window]

    def _ordered(self, order: tuple[tuple[str, bool], ...]) -> tuple[list[Record], list[str]]:
        """The records in ``order`` and their leading sort values, computed once per state of the table."""
        cached = self._sorted.get(order)
        if cached is None or cached[0] != self._version:
            ordered = Query((), order).sort([incident.record for incident in self._incidents.values()])
            leading = [record.get(order[0][0]) or "" for record in ordered] if order else []
            cached = self._sorted[order] = (self._version, ordered, leading)
        return cached[1], cached[2]

    # --- changing ---

    def advance(self, hours: float) -> Advance:
        """Move the clock forward: due steps happen, new incidents open; returns what changed."""
        if hours <= 0:
            raise ValueError("hours must be positive")
        with self._lock:
            start, end = self.clock, (self.clock + timedelta(hours=hours)).replace(microsecond=0)
            updated = [sys_id for sys_id, incident in self._incidents.items() if incident.apply_due(end)]
            opened: list[str] = []
            moment = start
            while True:
                moment += timedelta(hours=self._random.expovariate(self.hourly_rate))
                if moment > end:
                    break
                # Whole seconds, rounded up: still after the old clock, never past the new one.
                opened_at = moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)
                incident = self._open(opened_at)
                incident.apply_due(end)
                opened.append(incident.record["sys_id"])
            self.clock = end
            self._version += 1
            return Advance(format_timestamp(end), opened=opened, updated=updated)

    def touch(self, count: int | None = None, *, sys_ids: Iterable[str] | None = None) -> list[str]:
        """A mass update, as an admin script does: incidents reassigned to the Service Desk in one second.

        ``sys_ids`` names them; otherwise the first ``count`` open ones. The clock moves one second.
        """
        with self._lock:
            self.clock += timedelta(seconds=1)
            stamp = format_timestamp(self.clock)
            if sys_ids is not None:
                chosen = [self._incidents[sys_id] for sys_id in sys_ids]
            else:
                still_open = (i for i in self._incidents.values() if i.record["state"] not in ("resolved", "closed"))
                chosen = [incident for _, incident in zip(range(count or 0), still_open, strict=False)]
            for incident in chosen:
                incident.record.update(assignment_group=TRIAGE_GROUP, sys_updated_on=stamp)
                incident.record["sys_mod_count"] = str(int(incident.record["sys_mod_count"]) + 1)
            self._version += 1
            return [incident.record["sys_id"] for incident in chosen]

    def add_field(self, name: str, value_for: Callable[[Record], Any]) -> None:
        """A new column on the table (an admin added it): every record gets it, nothing else changes."""
        with self._lock:
            if name in self.fields:
                raise ValueError(f"the incident table already has a field {name!r}")
            self._extra_fields.append(name)
            for incident in self._incidents.values():
                incident.record[name] = value_for(incident.record)
            self._version += 1

    # --- drawing incidents ---

    def _open(self, opened_at: datetime) -> _Incident:
        draw = self._random
        category = _weighted(draw, ((name, spec[0]) for name, spec in _CATEGORIES.items()))
        _, team, templates = _CATEGORIES[category]
        impact = _weighted(draw, ((1, 10), (2, 30), (3, 60)))
        urgency = _weighted(draw, ((1, 15), (2, 35), (3, 50)))
        priority = _PRIORITY[(impact, urgency)]
        opened = format_timestamp(opened_at)
        record: Record = {
            "sys_id": f"{draw.getrandbits(128):032x}",
            "number": f"INC{self._next_number:07d}",
            "short_description": _describe(draw, draw.choice(templates)),
            "category": category,
            "impact": str(impact),
            "urgency": str(urgency),
            "priority": str(priority),
            "state": "new",
            "assignment_group": TRIAGE_GROUP,
            "opened_at": opened,
            "resolved_at": None,
            "closed_at": None,
            "close_code": None,
            "sys_created_on": opened,
            "sys_updated_on": opened,
            "sys_mod_count": "0",
        }
        self._next_number += 1
        for name in self._extra_fields:
            record[name] = None
        incident = _Incident(record, _plan(draw, opened_at, priority, team))
        self._incidents[record["sys_id"]] = incident
        return incident


def _plan(draw: random.Random, opened_at: datetime, priority: int, team: str) -> list[_Step]:
    """The incident's life: picked up, maybe on hold, resolved, closed (times heavy-tailed, by priority)."""
    picked_up = opened_at + _hours(draw.expovariate(1 / _FIRST_RESPONSE_HOURS[priority]) + 0.02)
    resolution = _hours(draw.lognormvariate(math.log(_RESOLUTION_HOURS[priority]), 0.9))
    resolved = picked_up + resolution
    steps = [_Step(picked_up, {"state": "in_progress", "assignment_group": team})]
    if draw.random() < 0.15:  # waiting for the caller: on hold a while, then back to work
        held = picked_up + resolution / 3
        back = held + _hours(draw.expovariate(1 / 20))
        steps += [_Step(held, {"state": "on_hold"}), _Step(back, {"state": "in_progress"})]
        resolved = max(resolved, back + _hours(1))
    resolved_text = format_timestamp(resolved)
    closed = resolved + _hours(draw.uniform(72, 168))  # callers have a few days to reopen before it closes
    close_code = _weighted(draw, _CLOSE_CODES)
    steps.append(_Step(resolved, {"state": "resolved", "resolved_at": resolved_text, "close_code": close_code}))
    steps.append(_Step(closed, {"state": "closed", "closed_at": format_timestamp(closed)}))
    for step in steps:
        step.at = step.at.replace(microsecond=0)
    return steps


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


def _weighted(draw: random.Random, choices: Iterable[tuple[Any, int]]) -> Any:
    items = list(choices)
    return draw.choices([item for item, _ in items], weights=[weight for _, weight in items])[0]


def _describe(draw: random.Random, template: str) -> str:
    return template.format(
        site=draw.choice(_SITES),
        app=draw.choice(_APPS),
        db=draw.choice(_DATABASES),
        user=draw.choice(CALLERS_LOGINS),
        vendor=draw.choice(_VENDORS),
        printer=draw.choice(_PRINTERS),
        share=draw.choice(_SHARES),
        host=draw.choice(_HOSTS),
        floor=draw.randint(1, 6),
        desk=draw.randint(1, 40),
    )
