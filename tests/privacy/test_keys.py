"""The pseudonymisation key: generated once per local lakehouse, readable by its owner only; required on the
cluster; refused when it is not 32 bytes of hex, naming the setting."""

from __future__ import annotations

import stat
from pathlib import Path

from civiclake.config import load_settings
from civiclake.privacy.keys import KEY_VARIABLE, pseudonym, pseudonymisation_key
from tests.cli.test_bad_settings import assert_refused, civiclake


def test_the_local_profile_generates_the_key_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "home")})
    key = pseudonymisation_key(settings)
    path = tmp_path / "home" / "privacy.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and int(key, 16) >= 0
    assert pseudonymisation_key(settings) == key, "the same key at every later use"
    other = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path / "other")})
    assert pseudonymisation_key(other) != key, "each lakehouse its own"


def test_a_configured_key_wins_over_the_file(tmp_path: Path) -> None:
    configured = "AB" * 32
    settings = load_settings(environ={"CIVICLAKE_HOME": str(tmp_path), KEY_VARIABLE: configured})
    assert pseudonymisation_key(settings) == configured.lower()
    assert not (tmp_path / "privacy.key").exists()
    assert pseudonym(configured.lower(), 42) == pseudonym(configured.lower(), "42")


def test_the_cluster_profile_without_a_key_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = civiclake(
        tmp_path,
        "privacy",
        "erase",
        "--subject",
        "user_id=1",
        CIVICLAKE_PROFILE="cluster",
        CIVICLAKE__CATALOG__URI=f"sqlite:///{tmp_path / 'catalog.db'}",
        CIVICLAKE__S3__BUCKET="lake",
    )
    assert_refused(result, KEY_VARIABLE)


def test_a_key_that_is_not_64_hex_digits_exits_2_naming_the_setting(tmp_path: Path) -> None:
    result = civiclake(tmp_path, "privacy", "erase", "--subject", "user_id=1", **{KEY_VARIABLE: "not-a-key"})
    assert_refused(result, "pseudonymisation_key", "64 hex digits")
    assert "not-a-key" not in result.stdout + result.stderr


def test_a_subject_that_is_not_key_equals_value_exits_2(tmp_path: Path) -> None:
    result = civiclake(tmp_path, "privacy", "erase", "--subject", "42")
    assert_refused(result, "KEY=VALUE")
