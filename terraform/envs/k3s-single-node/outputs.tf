output "endpoints" {
  description = "In-cluster endpoints of civiclake."
  value       = module.civiclake.endpoints
}

output "grafana_admin_password" {
  description = "Grafana admin password (terraform output -raw grafana_admin_password)."
  value       = random_password.credentials["grafana"].result
  sensitive   = true
}
