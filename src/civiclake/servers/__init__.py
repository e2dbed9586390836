"""Servers started on this machine: the cluster profile's PostgreSQL, MinIO and Trino (``civiclake dev up``,
``make demo-cluster``, the integration tests), fetched or built once into a versioned cache.

- ``stack``: the three together, configured from the Helm chart (``running_cluster``, ``dev_up``, ``dev_down``)
- ``postgres``, ``minio``, ``trino``: one server each; ``cache``: where builds and downloads are kept
- ``chart``: what is read from charts/civiclake; ``podenv``: a pod's environment as Kubernetes resolves it
"""
