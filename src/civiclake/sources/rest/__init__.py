"""The REST connector: paginated SaaS APIs (ServiceNow's Table API by default) with auth and rate limits."""

from civiclake.sources.rest.connector import RestConnector, RestEndpoint, rest_connectors

__all__ = ["RestConnector", "RestEndpoint", "rest_connectors"]
