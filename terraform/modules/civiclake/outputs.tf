output "namespace" {
  description = "Namespace civiclake runs in."
  value       = local.namespace
}

output "release_name" {
  description = "Helm release name."
  value       = helm_release.civiclake.name
}

output "endpoints" {
  description = "In-cluster endpoints of the civiclake services (reach them with kubectl port-forward or an Ingress)."
  value = {
    trino        = "http://${var.release_name}-trino.${local.namespace}.svc:8080"
    s3           = "http://${var.release_name}-minio.${local.namespace}.svc:9000"
    catalog_jdbc = "jdbc:postgresql://${local.postgresql_host}.${local.namespace}.svc:5432/iceberg"
    airflow_api  = "http://${var.release_name}-api-server.${local.namespace}.svc:8080"
    prometheus   = "http://${var.release_name}-prometheus-server.${local.namespace}.svc"
    pushgateway  = "http://${var.release_name}-prometheus-pushgateway.${local.namespace}.svc:9091"
    grafana      = "http://${var.release_name}-grafana.${local.namespace}.svc"
  }
}

output "secret_names" {
  description = "Secrets the module created (names the chart reads)."
  value       = local.secret_names
}
