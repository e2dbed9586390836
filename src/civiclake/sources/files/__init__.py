"""The ``files`` connector: files dropped in a landing folder or bucket (the Olist CSV drops)."""

from civiclake.sources.files.connector import FilesConnector
from civiclake.sources.files.landing import LandedFile, LandingZone
from civiclake.sources.files.patterns import FilePatterns, PatternMatch

__all__ = ["FilePatterns", "FilesConnector", "LandedFile", "LandingZone", "PatternMatch"]
