"""Sources: each one discovers resources and fetches their bytes into the raw zone.

Every connector has the same shape (see ``base.py``): discovery yields ``DiscoveredDataset`` objects
(the dataset's catalogue entry and its selected resources), and fetching streams one resource's bytes
to a local file. What happens next — raw zone, format detection, bronze loading — is shared
(``civiclake.pipeline``), so a new source only writes these two steps.
"""

# The source families ``civiclake sync --source`` knows, in the order a full sync runs them.
SOURCES = ("datagouv", "postgres", "files", "rest")
