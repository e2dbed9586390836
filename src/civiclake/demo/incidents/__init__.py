"""A ServiceNow-style incidents service (Table API, auth, rate limit, a clock that moves) for the ``rest`` source.

``civiclake serve incidents-api`` runs it in the foreground; ``IncidentsServer`` runs it in a thread for
the demo and the tests, and ``settings_overrides()`` points the connector at it.
"""

from civiclake.demo.incidents.server import (
    DEFAULT_PORT,
    DEMO_PASSWORD,
    DEMO_TOKEN,
    DEMO_USERNAME,
    IncidentsServer,
)
from civiclake.demo.incidents.store import FIELDS, Advance, IncidentStore
from civiclake.demo.mirror.server import Fault

__all__ = [
    "DEFAULT_PORT",
    "DEMO_PASSWORD",
    "DEMO_TOKEN",
    "DEMO_USERNAME",
    "FIELDS",
    "Advance",
    "Fault",
    "IncidentStore",
    "IncidentsServer",
]
