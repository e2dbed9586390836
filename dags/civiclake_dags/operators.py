"""One operator for every civiclake task: a KubernetesPodOperator that can also run its command locally.

The execution mode is read when the task runs (``CIVICLAKE_EXECUTION_MODE``, environment first, then the Airflow
Variable of that name; default ``kubernetes``), so both modes run the very same DAG: same tasks, same argv,
same pools, retries and timeouts. In ``local`` mode the argv runs in a subprocess (``civiclake`` being the
executable named by ``CIVICLAKE_EXECUTABLE``, default the one on PATH), its output streams into the task log,
and a non-zero exit fails the task. Either way the command's JSON summary becomes the task's XCom and the extra
of the asset events the task emits.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import Variable
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from kubernetes.client import models as k8s

from civiclake_dags.commands import EXECUTABLE, SUMMARY_VARIABLE

MODE_VARIABLE = "CIVICLAKE_EXECUTION_MODE"
EXECUTABLE_VARIABLE = "CIVICLAKE_EXECUTABLE"
MODES = ("kubernetes", "local")
# The extra of an asset event: what a consumer of bronze changes can use without reading the XCom.
SUMMARY_KEYS_FOR_ASSETS = ("status", "rows", "bytes", "tables", "batch_id")
_STOP_GRACE_SECONDS = 30

# The civiclake images run as uid/gid 10001 (images/*/Dockerfile); the chart's pod templates say the same.
POD_SECURITY_CONTEXT = k8s.V1PodSecurityContext(
    run_as_non_root=True,
    run_as_user=10001,
    run_as_group=10001,
    fs_group=10001,
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)


def container_security_context() -> k8s.V1SecurityContext:
    return k8s.V1SecurityContext(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
    )


def setting(name: str, default: str) -> str:
    """An execution setting: the environment wins, then the Airflow Variable, then ``default``."""
    value = os.environ.get(name) or Variable.get(name, default=None)
    return str(value) if value else default


def execution_mode() -> str:
    mode = setting(MODE_VARIABLE, "kubernetes").strip().lower()
    if mode not in MODES:
        raise AirflowFailException(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


class CivicLakeCommandOperator(KubernetesPodOperator):
    """Run ``civiclake <arguments>`` in a pod (the image and pod template of ``task_kind``), or locally."""

    # The service account comes from an Airflow Variable, like the image and the namespace.
    template_fields = (*KubernetesPodOperator.template_fields, "service_account_name")

    def __init__(self, *, task_kind: str = "ingest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task_kind = task_kind
        self._local_process: subprocess.Popen[str] | None = None

    def execute(self, context: Any) -> Any:
        if execution_mode() == "local":
            summary = self._run_locally()
        else:
            self._check_pod_template()
            summary = super().execute(context)
        self._describe_asset_events(context, summary)
        return summary

    def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> k8s.V1Pod:
        # An unset Variable renders as "": leave the field to the pod template (or the provider's default).
        for attribute in ("namespace", "service_account_name", "pod_template_file"):
            if getattr(self, attribute, None) == "":
                setattr(self, attribute, None)
        return super().build_pod_request_obj(context, dry_run=dry_run)

    def _check_pod_template(self) -> None:
        variable = f"CIVICLAKE_POD_TEMPLATE_{self.task_kind.upper()}"
        if not self.pod_template_file:
            raise AirflowFailException(
                f"no pod template for {self.task_kind} tasks: set the Airflow Variable {variable} to the file the "
                "civiclake chart mounts (airflowIntegration.podTemplatesMountPath)"
            )
        if not Path(self.pod_template_file).is_file():
            raise AirflowFailException(f"pod template {self.pod_template_file} ({variable}) does not exist")

    # --- local mode -----------------------------------------------------------------------------------------

    def local_argv(self) -> list[str]:
        command = list(self.cmds or [EXECUTABLE])
        if command[0] == EXECUTABLE:
            command[0] = setting(EXECUTABLE_VARIABLE, EXECUTABLE)
        return [*command, *(self.arguments or [])]

    def local_environment(self, summary_file: Path) -> dict[str, str]:
        environment = dict(os.environ)
        environment.update(_env_dict(self.env_vars))
        environment[SUMMARY_VARIABLE] = str(summary_file)
        return environment

    def _run_locally(self) -> Any:
        argv = self.local_argv()
        with tempfile.TemporaryDirectory(prefix="civiclake-task-") as scratch:
            summary_file = Path(scratch) / "summary.json"
            self.log.info("running %s", shlex.join(argv))
            try:
                process = subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.local_environment(summary_file),
                    text=True,
                    errors="replace",
                    start_new_session=True,  # its own process group: a timeout stops its children too
                )
            except OSError as error:
                raise AirflowFailException(
                    f"cannot start {argv[0]!r} ({error}); set {EXECUTABLE_VARIABLE} to the civiclake executable"
                ) from None
            self._local_process = process
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    self.log.info("%s", line.rstrip("\n"))
                exit_code = process.wait()
            finally:
                self._stop_local_process()
            if exit_code != 0:
                raise AirflowException(f"{shlex.join(argv)} exited with code {exit_code}")
            if summary_file.is_file() and summary_file.stat().st_size:
                return json.loads(summary_file.read_text(encoding="utf-8"))
        return None

    def _stop_local_process(self) -> None:
        process, self._local_process = self._local_process, None
        if process is None or process.poll() is not None:
            return
        self.log.warning("stopping %s (pid %s)", process.args, process.pid)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def on_kill(self) -> None:
        if self._local_process is not None:
            self._stop_local_process()
            return
        super().on_kill()

    # --- assets ---------------------------------------------------------------------------------------------

    def _describe_asset_events(self, context: Any, summary: Any) -> None:
        if not self.outlets or not isinstance(summary, Mapping):
            return
        extra = {key: summary[key] for key in SUMMARY_KEYS_FOR_ASSETS if key in summary}
        extra["dag_id"], extra["task_id"] = self.dag_id, self.task_id
        for asset in self.outlets:
            context["outlet_events"][asset].extra = extra


def _env_dict(env_vars: Any) -> dict[str, str]:
    """The operator's environment as a mapping, whichever form the provider keeps it in."""
    if not env_vars:
        return {}
    if isinstance(env_vars, Mapping):
        return {str(name): str(value) for name, value in env_vars.items()}
    return {variable.name: variable.value or "" for variable in env_vars if isinstance(variable, k8s.V1EnvVar)}
