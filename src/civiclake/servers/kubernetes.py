"""A real Kubernetes API server on 127.0.0.1: Debian's etcd plus kube-apiserver built from the Go module proxy.

The chart is installed by users into k3s; this server is the same Kubernetes minor as the k3s release
scripts/k3s-bootstrap.sh pins, so what it accepts (schemas, admission, RBAC) is what a user's cluster accepts.
There is no kubelet, controller-manager or scheduler: pods are stored and stay Pending, and what controllers
would create by themselves (a namespace's ``default`` ServiceAccount, tokens) is created explicitly.

    <cache>/kubernetes/<version>/{kube-apiserver,kubectl}    <cache>/go/{mod,build}   (shared with MinIO's build)

k8s.io/kubernetes is a Go module whose own go.mod points its staging modules (k8s.io/api, k8s.io/client-go, ...)
at folders of its repository; they are published as separate modules at v0.<minor>.<patch>. The build module is
written at build time: it requires k8s.io/kubernetes and pins each staging module named in that go.mod's
``replace`` block to its published version.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civiclake.servers.cache import cache_root, cached_entry
from civiclake.servers.minio import go_environment
from civiclake.servers.process import (
    ServerUnavailableError,
    free_tcp_port,
    start_process,
    stop_process,
    tail_of,
    wait_until,
)

MODULE = "k8s.io/kubernetes"
# The Kubernetes inside the k3s release that scripts/k3s-bootstrap.sh pins (K3S_VERSION=v1.32.5+k3s1).
VERSION = "v1.32.5"
BINARIES = ("kube-apiserver", "kubectl")
ETCD = "/usr/bin/etcd"
START_TIMEOUT_SECONDS = 90.0
ADMIN_USER = "civiclake-admin"
_STAGING = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/src/", re.MULTILINE)


def _go(args: list[str], cwd: Path, cache: Path, what: str) -> str:
    if shutil.which("go") is None:
        raise ServerUnavailableError(f"Go is needed to build {what}: install Go 1.23 or newer")
    result = subprocess.run(
        ["go", *args], cwd=cwd, capture_output=True, text=True, env=go_environment(cache), check=False
    )
    if result.returncode != 0:
        raise ServerUnavailableError(
            f"`go {' '.join(args)}` for {what} failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result.stdout


def staging_modules(kubernetes_go_mod: str) -> list[str]:
    """The staging modules k8s.io/kubernetes's go.mod replaces with folders of its own repository."""
    return sorted(set(_STAGING.findall(kubernetes_go_mod)))


def build_module(version: str, staging: list[str]) -> str:
    """The go.mod that builds k8s.io/kubernetes ``version`` with its staging modules at their published versions."""
    match = re.fullmatch(r"v1\.(\d+)\.(\d+)", version)
    if match is None:
        raise ServerUnavailableError(f"Kubernetes version {version!r} is not of the form v1.<minor>.<patch>")
    staging_version = f"v0.{match[1]}.{match[2]}"
    lines = ["module civiclake.local/kubernetes-build", "", "go 1.23", "", f"require {MODULE} {version}", ""]
    lines += ["replace ("]
    lines += [f"\t{module} => {module} {staging_version}" for module in staging]
    lines += [")", ""]
    return "\n".join(lines)


def _version_flags(version: str) -> str:
    # Without these the binaries report v0.0.0-master, and Helm's kubeVersion checks and `kubectl version` see a
    # server that is not the release it was built from.
    minor = version.split(".")[1]
    variables = {"gitVersion": version, "gitMajor": "1", "gitMinor": minor, "gitTreeState": "clean"}
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in variables.items()]
    return " ".join(["-s", "-w", *flags])


def install_kubernetes(version: str = VERSION, *, cache: Path | None = None) -> Path:
    """The folder holding kube-apiserver and kubectl of ``version``, built the first time (several minutes)."""
    root = cache or cache_root()

    def build(scratch: Path) -> None:
        work = scratch / "module"
        work.mkdir()
        listing = json.loads(_go(["mod", "download", "-json", f"{MODULE}@{version}"], work, root, MODULE))
        if listing.get("Error"):
            raise ServerUnavailableError(f"the Go module proxy has no {MODULE}@{version}: {listing['Error']}")
        staging = staging_modules(Path(listing["GoMod"]).read_text(encoding="utf-8"))
        (work / "go.mod").write_text(build_module(version, staging), encoding="utf-8")
        packages = [f"{MODULE}/cmd/{binary}" for binary in BINARIES]
        # Each package at the pinned version: without it `go get` moves k8s.io/kubernetes to its newest release.
        _go(["get", *(f"{package}@{version}" for package in packages)], work, root, MODULE)
        _go(
            ["build", "-trimpath", "-ldflags", _version_flags(version), "-o", str(scratch) + "/", *packages],
            work,
            root,
            MODULE,
        )
        shutil.rmtree(work)

    return cached_entry("kubernetes", version, build, root=root)


# --- certificates -----------------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerUnavailableError(
            f"`openssl {' '.join(args[:2])}` failed (exit {result.returncode}):\n{result.stderr}"
        )


def _signed_certificate(pki: Path, name: str, subject: str, extensions: str) -> None:
    """``<name>.key`` and ``<name>.crt`` signed by the CA in ``pki``, with the given X.509v3 extensions."""
    (pki / f"{name}.ext").write_text(extensions, encoding="utf-8")
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=pki)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=pki)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=pki,
    )  # fmt: skip


def make_pki(pki: Path) -> None:
    """A throwaway CA, the API server's serving certificate, an admin client certificate (group system:masters)
    and the key pair that signs ServiceAccount tokens."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=pki)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=civiclake-test-ca", "-days", "2", "-out", "ca.crt",
        cwd=pki,
    )  # fmt: skip
    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    san = ",".join([*(f"DNS:{name}" for name in names), "IP:127.0.0.1"])
    _signed_certificate(pki, "apiserver", "/CN=kube-apiserver", f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n")
    _signed_certificate(pki, "admin", f"/O=system:masters/CN={ADMIN_USER}", "extendedKeyUsage=clientAuth\n")
    _openssl("genrsa", "-out", "service-account.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "service-account.key", "-pubout", "-out", "service-account.pub", cwd=pki)


# --- the servers --------------------------------------------------------------------------------------------------


@dataclass
class KubernetesServer:
    """A running API server: its URL, CA, the admin kubeconfig, and the processes behind it."""

    url: str
    version: str
    base_dir: Path
    kubeconfig: Path
    kubectl: Path
    processes: list[subprocess.Popen[bytes]] = field(repr=False, default_factory=list)

    @property
    def ca_file(self) -> Path:
        return self.base_dir / "pki" / "ca.crt"

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        pki = self.base_dir / "pki"
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        return context

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call to the API as the admin; raises with the server's message on an error status."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, context=self.ssl_context(), timeout=30) as response:
                return dict(json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as error:
            raise KubernetesApiError(method, path, error.code, error.read().decode(errors="replace")) from None

    def kubectl_run(self, *args: str, kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl), "--kubeconfig", str(kubeconfig or self.kubeconfig), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def create_namespace(self, name: str) -> None:
        self.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
        # Without a controller-manager no `default` ServiceAccount appears in a new namespace; pods that name no
        # account are given that one by the ServiceAccount admission plugin, which rejects them if it is missing.
        self.create_service_account(name, "default")

    def create_service_account(self, namespace: str, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
        self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", body)

    def service_account_token(self, namespace: str, name: str, seconds: int = 3600) -> str:
        """A token of the ServiceAccount, from the TokenRequest API: without a controller-manager no token
        Secret is ever filled in, and a pod's projected token would come from a kubelet that does not run here."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        answer = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", body)
        return str(answer["status"]["token"])

    def write_token_kubeconfig(self, path: Path, token: str, namespace: str) -> Path:
        """A kubeconfig that authenticates with ``token`` only (what a pod's in-cluster config holds)."""
        cluster = {"server": self.url, "certificate-authority-data": _b64(self.ca_file.read_bytes())}
        _write_kubeconfig(path, cluster, {"token": token}, namespace)
        return path


class KubernetesApiError(ServerUnavailableError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        try:
            message = json.loads(body).get("message", body)
        except ValueError:
            message = body
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_kubeconfig(path: Path, cluster: dict[str, str], user: dict[str, str], namespace: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "civiclake-test", "cluster": cluster}],
        "users": [{"name": "user", "user": user}],
        "contexts": [
            {"name": "civiclake-test", "context": {"cluster": "civiclake-test", "user": "user", "namespace": namespace}}
        ],
        "current-context": "civiclake-test",
    }
    # JSON is YAML: every Kubernetes client reads it.
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    path.chmod(0o600)


def _start_etcd(base_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    if not Path(ETCD).is_file():
        raise ServerUnavailableError(f"{ETCD} is missing: install Debian's etcd-server (make system-deps)")
    client, peer = free_tcp_port(), free_tcp_port()
    client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    log_file = base_dir / "etcd.log"
    command = [
        ETCD, "--name", "civiclake", "--data-dir", str(base_dir / "etcd"),
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"civiclake={peer_url}", "--log-level", "warn",
    ]  # fmt: skip
    process = start_process(command, log_file=log_file, env=dict(os.environ))

    def ready() -> bool:
        if process.poll() is not None:
            raise ServerUnavailableError(f"etcd exited with code {process.returncode}:\n{tail_of(log_file)}")
        try:
            with urllib.request.urlopen(f"{client_url}/health", timeout=2) as response:
                return bool(json.loads(response.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    try:
        wait_until(ready, START_TIMEOUT_SECONDS, "etcd", lambda: tail_of(log_file))
    except BaseException:
        stop_process(process)
        raise
    return process, client_url


def start_kubernetes(base_dir: Path, version: str = VERSION) -> KubernetesServer:
    """etcd and kube-apiserver under ``base_dir`` on free loopback ports; on failure nothing is left running."""
    binaries = install_kubernetes(version)
    base_dir.mkdir(parents=True, exist_ok=True)
    pki = base_dir / "pki"
    make_pki(pki)
    with ExitStack() as undo:
        etcd, etcd_url = _start_etcd(base_dir)
        undo.callback(stop_process, etcd)
        port = free_tcp_port()
        log_file = base_dir / "kube-apiserver.log"
        command = [
            str(binaries / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={base_dir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-key-file={pki / 'service-account.pub'}",
            f"--service-account-signing-key-file={pki / 'service-account.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            # What a k3s server runs with: the Node authorizer, then RBAC (no AlwaysAllow anywhere).
            "--authorization-mode=Node,RBAC",
            # Addresses the API server hands out to Services; nothing is routed to them here.
            "--service-cluster-ip-range=10.43.0.0/16",
            "--profiling=false",
        ]
        process = start_process(command, log_file=log_file, env=dict(os.environ))
        undo.callback(stop_process, process)
        url = f"https://127.0.0.1:{port}"
        kubeconfig = base_dir / "admin.kubeconfig"
        _write_kubeconfig(
            kubeconfig,
            {"server": url, "certificate-authority-data": _b64((pki / "ca.crt").read_bytes())},
            {
                "client-certificate-data": _b64((pki / "admin.crt").read_bytes()),
                "client-key-data": _b64((pki / "admin.key").read_bytes()),
            },
            "default",
        )
        server = KubernetesServer(url, version, base_dir, kubeconfig, binaries / "kubectl", [process, etcd])

        def ready() -> bool:
            if process.poll() is not None:
                raise ServerUnavailableError(
                    f"kube-apiserver exited with code {process.returncode}:\n{tail_of(log_file)}"
                )
            try:
                with urllib.request.urlopen(f"{url}/readyz", context=server.ssl_context(), timeout=2) as response:
                    return response.status == 200
            except (OSError, ValueError):
                return False

        started = time.monotonic()
        wait_until(ready, START_TIMEOUT_SECONDS, "kube-apiserver", lambda: tail_of(log_file), interval=0.5)
        (base_dir / "kube-apiserver.ready").write_text(f"ready in {time.monotonic() - started:.2f} s\n")
        undo.pop_all()
    return server


def stop_kubernetes(server: KubernetesServer) -> None:
    for process in server.processes:
        stop_process(process)


@contextmanager
def running_kubernetes(base_dir: Path, version: str = VERSION) -> Iterator[KubernetesServer]:
    server = start_kubernetes(base_dir, version)
    try:
        yield server
    finally:
        stop_kubernetes(server)
