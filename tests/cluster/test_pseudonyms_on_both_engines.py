"""The ``pseudonymise`` macro gives the same pseudonym on DuckDB and on the real Trino, and it is HMAC-SHA256 under
the lakehouse's key (what civiclake computes in Python for the erasure tombstones): the SQL dbt renders for each
target is run on each engine."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from civiclake.privacy.keys import KEY_VARIABLE, pseudonym
from civiclake.servers.stack import ClusterServers
from civiclake.transform.project import DbtProject
from tests.transform.lakehouse import copy_dbt_project

# Text as e-mails and names come (accents, a hyphen, an apostrophe, non-Latin script), an id, an empty text, null.
VALUES = ["alice@example.org", "Zoë Ünal-Ñúñez", "O'Brien", "Дмитрий Иванов", "42", "", None]
KEY = secrets.token_hex(32)


def _literal(value: str | None) -> str:
    return "cast(null as varchar)" if value is None else "'" + value.replace("'", "''") + "'"


def _inline_query() -> str:
    selects = [
        f"select {position} as n, {{{{ civiclake.pseudonymise({json.dumps(_literal(value))}) }}}} as pseudonym"
        for position, value in enumerate(VALUES)
    ]
    # An id column pseudonymised as the erasure pseudonymises it: its integer's text.
    selects.append(f"select {len(VALUES)} as n, {{{{ civiclake.pseudonymise('cast(42 as bigint)') }}}} as pseudonym")
    return " union all ".join(selects)


def _compiled(target: str, base: Path, environment: dict[str, str]) -> str:
    project = DbtProject(copy_dbt_project(base / target / "dbt"), base / target / "work", target, {KEY_VARIABLE: KEY})
    output: list[str] = []
    arguments = ["compile", "--quiet", "--output", "json", "--inline", _inline_query()]
    assert project.run(arguments, on_line=output.append, extra_environment=environment) == 0, "\n".join(output)
    text = "\n".join(output)
    return json.loads(text[text.index("{") :])["compiled"]


@pytest.fixture(scope="module")
def pseudonyms(cluster: ClusterServers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str | None]]:
    base = tmp_path_factory.mktemp("pseudonyms")
    duck_sql = _compiled("duckdb", base, {})
    with closing(duckdb.connect()) as connection:
        duck = [row[1] for row in connection.execute(f"select * from ({duck_sql}) order by n").fetchall()]
    trino_environment = {name: value for name, value in cluster.environment.items() if name.startswith("TRINO_")}
    trino_sql = _compiled("trino", base, trino_environment)
    with closing(cluster.trino.connect()) as connection:
        cursor = connection.cursor()
        cursor.execute(f"select * from ({trino_sql}) order by n")
        on_trino = [row[1] for row in cursor.fetchall()]
    return {"duckdb": duck, "trino": on_trino}


def test_duckdb_and_trino_give_the_same_pseudonyms(pseudonyms: dict[str, list[str | None]]) -> None:
    assert pseudonyms["duckdb"] == pseudonyms["trino"]
    assert len(set(pseudonyms["duckdb"])) == len(VALUES)  # distinct values, distinct pseudonyms; null stays null


def test_the_pseudonym_is_hmac_sha256_under_the_key(pseudonyms: dict[str, list[str | None]]) -> None:
    expected = [
        None if value is None else hmac.new(bytes.fromhex(KEY), value.encode(), hashlib.sha256).hexdigest()
        for value in VALUES
    ]
    assert pseudonyms["trino"][: len(VALUES)] == expected
    # civiclake's own (the tombstones): an integer id pseudonymised in SQL and in Python agree.
    assert pseudonyms["trino"][-1] == pseudonym(KEY, 42) == expected[VALUES.index("42")]
