#!/usr/bin/env bash
# Install the Debian 12 packages that civiclake's integration tests and local servers need.
#
# Idempotent: packages already installed are left alone, and `apt-get update` runs at most once, only when
# something is missing. Must run as root (or through sudo) on Debian 12.
#
#   PostgreSQL 15       the Iceberg SQL (JDBC) catalog of the cluster profile
#   Prometheus          metrics scraping and the Pushgateway for batch jobs
#   ShellCheck          the lint of scripts/ and of the chart's shell scripts (tests/deploy)
#   etcd                the store of the Kubernetes API server the chart is installed on (tests/kubernetes)
#   Chromium            the headless browser that checks the `civiclake docs` site (Playwright drives it)
#   podman, buildah     build and run the images (tests/images); runc (crun refuses hybrid cgroups), debootstrap
#                       for their Debian base (no container registry is reachable), uidmap, fuse-overlayfs,
#                       slirp4netns for podman's storage and networking
#
# and, when the machine has no `terraform`, builds Terraform (for `terraform fmt -check` of terraform/) from the
# Go module proxy into the versioned cache ~/.cache/civiclake/terraform/<version>, linked into /usr/local/bin.
# v1.5.7 is the newest release that `go install` builds (later ones carry replace directives) and the last
# under the MPL; its formatter is the one later releases use.
set -euo pipefail

TERRAFORM_VERSION=v1.5.7
CACHE="${CIVICLAKE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/civiclake}"

PACKAGES=(
    postgresql-15
    prometheus
    prometheus-pushgateway
    shellcheck
    etcd-server
    chromium
    podman
    buildah
    runc
    uidmap
    fuse-overlayfs
    slirp4netns
    debootstrap
)

log() {
    printf 'install-system-deps: %s\n' "$*"
}

if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        log "not root: re-running through sudo"
        exec sudo -- "$0" "$@"
    fi
    log "must run as root (apt-get install needs it)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found: this script supports Debian 12 only" >&2
    exit 1
fi

is_installed() {
    # dpkg-query prints "install ok installed" for a fully installed package.
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
    if is_installed "$package"; then
        log "already installed: $package"
    else
        missing+=("$package")
    fi
done

install_terraform() {
    local destination="$CACHE/terraform/$TERRAFORM_VERSION"
    if [[ ! -x "$destination/terraform" ]]; then
        if ! command -v go >/dev/null 2>&1; then
            log "terraform is missing and Go is not installed to build it (Go 1.21 or newer)" >&2
            exit 1
        fi
        log "building terraform $TERRAFORM_VERSION from the Go module proxy into $destination (a few minutes, once)"
        GOBIN="$destination" GOTOOLCHAIN=local CGO_ENABLED=0 \
            GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOPATH="$CACHE/go/path" \
            go install -trimpath "github.com/hashicorp/terraform@$TERRAFORM_VERSION"
    fi
    ln -sf "$destination/terraform" /usr/local/bin/terraform
    log "terraform: $(TF_CLI_CONFIG_FILE=/dev/null terraform version | head -n 1)"
}

if command -v terraform >/dev/null 2>&1; then
    log "already installed: terraform"
else
    install_terraform
fi

if [[ "${#missing[@]}" -eq 0 ]]; then
    log "nothing to do"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "running: apt-get update"
apt-get update
log "running: apt-get install -y --no-install-recommends ${missing[*]}"
apt-get install -y --no-install-recommends "${missing[@]}"
log "installed: ${missing[*]}"
