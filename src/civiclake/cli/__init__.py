"""The ``civiclake`` command line."""
