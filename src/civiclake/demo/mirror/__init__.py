"""An offline mirror of the data.gouv.fr catalogue, served over HTTP for the demo and the tests.

``catalog/`` holds one JSON file per dataset, exactly as the API returns it; ``files/`` holds the
bytes its resources point to (real producer files, kept byte for byte, and small generated ones).
``build_catalog`` recomputes the catalogue from the files; ``server.MirrorServer`` serves both.
"""

from civiclake.demo.mirror.server import (
    DEFAULT_CATALOG_DIR,
    DEFAULT_FILES_DIR,
    Fault,
    MirrorServer,
    RequestRecord,
)

__all__ = ["DEFAULT_CATALOG_DIR", "DEFAULT_FILES_DIR", "Fault", "MirrorServer", "RequestRecord"]
