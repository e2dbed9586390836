variable "namespace" {
  type        = string
  description = "Namespace civiclake is installed into (one civiclake release per namespace: its NetworkPolicies deny by default namespace-wide)."
  default     = "civiclake"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "create_namespace" {
  type        = bool
  description = "Create the namespace (false: it already exists, e.g. managed by your platform)."
  default     = true
}

variable "release_name" {
  type        = string
  description = "Helm release name; in-cluster hostnames follow it (civiclake-trino, civiclake-minio, ...)."
  default     = "civiclake"
}

variable "chart_path" {
  type        = string
  description = "Path of the civiclake chart (charts/civiclake of this repository). Its dependencies are downloaded at apply time."
}

variable "values_files" {
  type        = list(string)
  description = "Extra values files applied after the module's own values, in order (e.g. charts/civiclake/values-k3s-single-node.yaml)."
  default     = []
}

variable "lake_bucket" {
  type        = string
  description = "Bucket of the lake (raw files and the Iceberg warehouse)."
  default     = "civiclake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lake_bucket))
    error_message = "lake_bucket must be a valid S3 bucket name."
  }
}

variable "catalog_name" {
  type        = string
  description = "Iceberg catalog name shared by pyiceberg and Trino. Never change it once data is written."
  default     = "civiclake"
}

variable "pipeline_max_active_tasks" {
  type        = number
  description = "How many pipeline pods Airflow runs at once."
  default     = 2

  validation {
    condition     = var.pipeline_max_active_tasks >= 1 && floor(var.pipeline_max_active_tasks) == var.pipeline_max_active_tasks
    error_message = "pipeline_max_active_tasks must be a whole number, at least 1."
  }
}

variable "helm_timeout_seconds" {
  type        = number
  description = "How long Terraform waits for the release to become ready."
  default     = 1200
}

variable "s3_access_key_id" {
  type        = string
  description = "Access key id of the lake (MinIO root user when MinIO runs in the chart)."
  sensitive   = true

  validation {
    condition     = length(var.s3_access_key_id) >= 3
    error_message = "s3_access_key_id must hold at least 3 characters (MinIO's minimum)."
  }
}

variable "s3_secret_access_key" {
  type        = string
  description = "Secret access key of the lake (MinIO root password when MinIO runs in the chart)."
  sensitive   = true

  validation {
    condition     = length(var.s3_secret_access_key) >= 8
    error_message = "s3_secret_access_key must hold at least 8 characters (MinIO's minimum)."
  }
}

variable "postgres_admin_password" {
  type        = string
  description = "Password of the PostgreSQL `postgres` administrator (in-chart PostgreSQL)."
  sensitive   = true
}

variable "catalog_password" {
  type        = string
  description = "Password of the Iceberg catalog role. URL-safe characters only: it is placed in connection URLs."
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9._~-]{16,}$", var.catalog_password))
    error_message = "catalog_password must be at least 16 URL-safe characters (letters, digits, . _ ~ -)."
  }
}

variable "airflow_db_password" {
  type        = string
  description = "Password of the Airflow metadata role. URL-safe characters only: it is placed in connection URLs."
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9._~-]{16,}$", var.airflow_db_password))
    error_message = "airflow_db_password must be at least 16 URL-safe characters (letters, digits, . _ ~ -)."
  }
}

variable "airflow_fernet_key" {
  type        = string
  description = "Airflow Fernet key: 32 random bytes, URL-safe base64 encoded (44 characters)."
  sensitive   = true

  validation {
    condition     = length(var.airflow_fernet_key) == 44
    error_message = "airflow_fernet_key must be 44 characters (32 bytes, base64 encoded)."
  }
}

variable "airflow_api_secret_key" {
  type        = string
  description = "Airflow API server secret key ([api] secret_key)."
  sensitive   = true
}

variable "airflow_jwt_secret" {
  type        = string
  description = "Secret that signs Airflow's JWTs ([api_auth] jwt_secret)."
  sensitive   = true
}

variable "grafana_admin_password" {
  type        = string
  description = "Password of Grafana's `admin` user."
  sensitive   = true
}

variable "pseudonymisation_key" {
  type        = string
  description = "HMAC key of the pseudonyms in silver and gold and of the erasure tombstones: 64 hex digits (32 random bytes). Changing it changes every pseudonym."
  sensitive   = true

  validation {
    condition     = can(regex("^[0-9a-fA-F]{64}$", var.pseudonymisation_key))
    error_message = "pseudonymisation_key must be 64 hex digits (32 random bytes)."
  }
}
