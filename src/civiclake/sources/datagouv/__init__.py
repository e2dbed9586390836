"""The data.gouv.fr connector: the French open-data catalogue (udata API v1 and v2)."""

from civiclake.sources.datagouv.connector import DatagouvConnector, DatagouvSelection

__all__ = ["DatagouvConnector", "DatagouvSelection"]
