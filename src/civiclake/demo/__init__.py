"""The offline demo: a local mirror of the data.gouv.fr catalogue and what runs against it."""
