# civiclake on a Kubernetes cluster: namespace, the Secrets the chart reads, and the Helm release.
#
# Secret names and keys are the chart's defaults (charts/civiclake/values.yaml): the chart's dependency sections
# reference them by these names, so they are fixed here rather than variables.

locals {
  secret_names = {
    s3               = "civiclake-s3-credentials"
    postgresql       = "civiclake-pg-credentials"
    airflow_metadata = "civiclake-airflow-metadata"
    airflow_keys     = "civiclake-airflow-keys"
    grafana_admin    = "civiclake-grafana-admin"
    privacy          = "civiclake-privacy"
  }

  namespace       = var.create_namespace ? kubernetes_namespace_v1.civiclake[0].metadata[0].name : var.namespace
  postgresql_host = "${var.release_name}-postgresql"

  # Values the module sets; values_files come after and may override anything but the Secret names.
  module_values = templatefile("${path.module}/values.yaml.tftpl", {
    lake_bucket               = var.lake_bucket
    catalog_name              = var.catalog_name
    pipeline_max_active_tasks = var.pipeline_max_active_tasks
    s3_secret_name            = local.secret_names.s3
    postgresql_secret_name    = local.secret_names.postgresql
  })

  labels = {
    "app.kubernetes.io/part-of"    = "civiclake"
    "app.kubernetes.io/managed-by" = "terraform"
  }
}

resource "kubernetes_namespace_v1" "civiclake" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name   = var.namespace
    labels = local.labels
  }
}

resource "kubernetes_secret_v1" "s3" {
  metadata {
    name      = local.secret_names.s3
    namespace = local.namespace
    labels    = local.labels
  }

  data = {
    rootUser     = var.s3_access_key_id
    rootPassword = var.s3_secret_access_key
  }
}

resource "kubernetes_secret_v1" "postgresql" {
  metadata {
    name      = local.secret_names.postgresql
    namespace = local.namespace
    labels    = local.labels
  }

  data = {
    "postgres-password" = var.postgres_admin_password
    "password"          = var.catalog_password
    "airflow-password"  = var.airflow_db_password
  }
}

resource "kubernetes_secret_v1" "airflow_metadata" {
  metadata {
    name      = local.secret_names.airflow_metadata
    namespace = local.namespace
    labels    = local.labels
  }

  data = {
    connection = "postgresql://airflow:${var.airflow_db_password}@${local.postgresql_host}:5432/airflow"
  }
}

resource "kubernetes_secret_v1" "airflow_keys" {
  metadata {
    name      = local.secret_names.airflow_keys
    namespace = local.namespace
    labels    = local.labels
  }

  data = {
    "fernet-key"     = var.airflow_fernet_key
    "api-secret-key" = var.airflow_api_secret_key
    "jwt-secret"     = var.airflow_jwt_secret
  }
}

resource "kubernetes_secret_v1" "grafana_admin" {
  metadata {
    name      = local.secret_names.grafana_admin
    namespace = local.namespace
    labels    = local.labels
  }

  data = {
    "admin-user"     = "admin"
    "admin-password" = var.grafana_admin_password
  }
}

resource "kubernetes_secret_v1" "privacy" {
  metadata {
    name      = local.secret_names.privacy
    namespace = local.namespace
    labels    = local.labels
  }

  data = {
    "pseudonymisation-key" = var.pseudonymisation_key
  }
}

resource "helm_release" "civiclake" {
  name              = var.release_name
  namespace         = local.namespace
  chart             = var.chart_path
  dependency_update = true
  wait              = true
  timeout           = var.helm_timeout_seconds

  values = concat([local.module_values], [for path in var.values_files : file(path)])

  depends_on = [
    kubernetes_secret_v1.s3,
    kubernetes_secret_v1.postgresql,
    kubernetes_secret_v1.airflow_metadata,
    kubernetes_secret_v1.airflow_keys,
    kubernetes_secret_v1.grafana_admin,
    kubernetes_secret_v1.privacy,
  ]
}
