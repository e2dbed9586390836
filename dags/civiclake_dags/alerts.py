"""Task failures posted to a webhook (Slack, Mattermost, Teams, Alertmanager-style receivers...).

The URL lives in an Airflow connection (``civiclake_alerts`` unless the registry says otherwise), never in code:
either a connection whose host is the whole URL (``{"conn_type": "http", "host": "https://hooks.example.org/T0"}``)
or an http(s) URI connection (``AIRFLOW_CONN_CIVICLAKE_ALERTS=https://hooks.example.org/T0``). Without the
connection, failures are only logged. A webhook outage never fails the task a second time.
"""

from __future__ import annotations

from typing import Any

import httpx
from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException

TIMEOUT_SECONDS = 10.0
MAX_ERROR_CHARACTERS = 2000


def webhook_url(connection: Any) -> str:
    """The URL a connection points at (see the module docstring for the two accepted forms)."""
    host = (connection.host or "").strip()
    if "://" in host:
        return host
    if not host:
        raise ValueError(f"connection {connection.conn_id!r} has no host: put the webhook URL there")
    scheme = connection.conn_type if connection.conn_type in ("http", "https") else "https"
    port = f":{connection.port}" if connection.port else ""
    path = (connection.schema or "").lstrip("/")
    return f"{scheme}://{host}{port}/{path}"


def failure_message(context: Any) -> dict[str, Any]:
    """What is posted: a one-line ``text`` for chat tools, and the fields a receiver can route on."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    task = ti.task_id + (f"[{map_index}]" if map_index is not None and map_index >= 0 else "")
    error = str(context.get("exception") or "unknown error")[:MAX_ERROR_CHARACTERS]
    run_id = context.get("run_id", "")
    return {
        "text": f"civiclake: {ti.dag_id}.{task} failed (try {ti.try_number}, run {run_id}): {error}",
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "map_index": map_index,
        "run_id": run_id,
        "try_number": ti.try_number,
        "error": error,
    }


class WebhookFailureNotifier(BaseNotifier):
    """``on_failure_callback`` of every civiclake task."""

    def __init__(self, connection_id: str) -> None:
        super().__init__()
        self.connection_id = connection_id

    def notify(self, context: Any) -> None:
        try:
            connection = BaseHook.get_connection(self.connection_id)
        except AirflowNotFoundException:
            self.log.warning("no Airflow connection %r: task failure not posted to a webhook", self.connection_id)
            return
        message = failure_message(context)
        try:
            url = webhook_url(connection)
            response = httpx.post(url, json=message, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            self.log.error(
                "failure alert refused through connection %r: HTTP %s", self.connection_id, error.response.status_code
            )
            return
        except (httpx.HTTPError, ValueError) as error:
            # The URL may carry a token: name the connection and the kind of error, never the address.
            self.log.error(
                "failure alert not delivered through connection %r: %s", self.connection_id, type(error).__name__
            )
            return
        self.log.info("failure alert posted through connection %r", self.connection_id)
