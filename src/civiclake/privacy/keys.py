"""The pseudonymisation key: one secret per lakehouse, the same for dbt (the ``pseudonymise`` macro) and for
civiclake itself (the erasure tombstones), so a pseudonym computed on either side matches the other.

Cluster profile: the key comes from settings (``CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY``, in the pods from a
Kubernetes Secret); a missing key is a configuration error, never a key made up on the spot, since every pod must
use the same one. Local profile: without a setting, the key is generated on first use into ``<home>/privacy.key``,
readable by its owner only, and kept there: losing it changes every pseudonym of the next full rebuild.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

from civiclake.config import Settings
from civiclake.errors import ConfigurationError

KEY_VARIABLE = "CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY"
KEY_FILE_NAME = "privacy.key"
_HEX_KEY = re.compile(r"[0-9a-f]{64}")


def pseudonymisation_key(settings: Settings) -> str:
    """The key as 64 lowercase hex digits (created on the local profile when there is none yet)."""
    configured = settings.privacy.pseudonymisation_key
    if configured is not None:
        return configured.get_secret_value().strip().lower()
    if settings.profile == "cluster":
        raise ConfigurationError(
            f"the cluster profile needs the pseudonymisation key: set {KEY_VARIABLE} (64 hex digits, from a "
            "Kubernetes Secret) the same in every pod"
        )
    path = settings.home / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two first runs at once cannot each write a different key; 0600 from creation, never wider.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="ascii") as stream:
                stream.write(secrets.token_hex(32) + "\n")
    key = path.read_text(encoding="ascii").strip().lower()
    if not _HEX_KEY.fullmatch(key):
        raise ConfigurationError(
            f"{path} does not hold a pseudonymisation key (64 hex digits): restore it or set {KEY_VARIABLE}"
        )
    return key


def pseudonym(key: str, value: object) -> str:
    """What the dbt macro ``pseudonymise`` computes: HMAC-SHA256 of the value's text, lowercase hex."""
    return hmac.new(bytes.fromhex(key), str(value).encode("utf-8"), hashlib.sha256).hexdigest()


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The variable the dbt macro reads the key from."""
    return {KEY_VARIABLE: pseudonymisation_key(settings)}
