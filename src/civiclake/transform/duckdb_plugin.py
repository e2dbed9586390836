"""A dbt-duckdb plugin that loads DuckDB's extensions from their PyPI packages, never from the network.

dbt-duckdb's own ``extensions:`` profile key runs ``INSTALL <name>``, which downloads the extension unless it
is already in the extension directory: a profile using it works only after civiclake has filled that
directory, and ``dbt`` run by hand in a fresh checkout fails offline. This plugin installs the extensions
from the files their PyPI packages carry (``duckdb-extension-*``, dependencies of civiclake) into the
connection's ``extension_directory``, then loads them, on whichever machine and in whichever folder dbt runs.

The profile names it (``plugins: [{module: civiclake.transform.duckdb_plugin}]``); dbt-duckdb calls
``configure_connection`` once per connection it opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from civiclake.warehouse.duck import load_extensions_offline


class Plugin(BasePlugin):  # type: ignore[misc]  # dbt-duckdb is untyped
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.plugin_config = plugin_config

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        # The profile's config_options.extension_directory, set when the connection opened; relative paths are
        # DuckDB's own (from the folder dbt runs in).
        row = conn.execute("SELECT current_setting('extension_directory')").fetchone()
        directory = Path(row[0]) if row and row[0] else Path(".duckdb_extensions")
        load_extensions_offline(conn, directory.resolve())
