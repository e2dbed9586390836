#!/usr/bin/env bash
# Install the Debian 12 packages that civiclake's integration tests and local servers need.
#
# Idempotent: packages already installed are left alone, and `apt-get update` runs at most once, only when
# something is missing. Must run as root (or through sudo) on Debian 12.
#
#   PostgreSQL 15       the Iceberg SQL (JDBC) catalog of the cluster profile
#   Ceph radosgw        a real S3 server (one monitor, one memstore OSD) standing in for MinIO
#   Prometheus          metrics scraping and the Pushgateway for batch jobs
#   shellcheck          the lint of scripts/ and of the chart's shell scripts (tests/deploy)
set -euo pipefail

PACKAGES=(
    postgresql-15
    ceph-mon
    ceph-osd
    radosgw
    ceph-common
    prometheus
    prometheus-pushgateway
    shellcheck
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
