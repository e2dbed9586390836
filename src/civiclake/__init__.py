"""civiclake: messy public and business data in, historised and tested SQL tables out."""

__version__ = "0.1.0"
