variable "kubeconfig_path" {
  type        = string
  description = "Kubeconfig of the k3s cluster (k3s writes /etc/rancher/k3s/k3s.yaml on the server node)."
  default     = "~/.kube/config"
}

variable "kubeconfig_context" {
  type        = string
  description = "Context to use in that kubeconfig; empty means its current context."
  default     = ""
}

variable "namespace" {
  type        = string
  description = "Namespace civiclake is installed into."
  default     = "civiclake"
}

variable "lake_bucket" {
  type        = string
  description = "Bucket of the lake."
  default     = "civiclake"
}
