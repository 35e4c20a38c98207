variable "environment" {
  description = "Deployment environment: prod or staging."
  type        = string

  validation {
    condition     = contains(["prod", "staging"], var.environment)
    error_message = "environment must be prod or staging."
  }
}

variable "region" {
  description = "AWS region for every resource in this stack."
  type        = string
  default     = "us-east-1"
}

variable "vpc_id" {
  description = "VPC shared with the acme-main EKS cluster."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for RDS and ElastiCache."
  type        = list(string)
}

variable "eks_oidc_provider_arn" {
  description = "OIDC provider of the acme-main EKS cluster (for IRSA)."
  type        = string
}

variable "eks_oidc_provider_url" {
  description = "OIDC issuer host of the acme-main EKS cluster, without https://."
  type        = string
}

variable "db_username" {
  description = "Master user of the orders RDS instance."
  type        = string
  default     = "orders_admin"
}

variable "db_password" {
  description = "Master password of the orders RDS instance."
  type        = string
  sensitive   = true
}

variable "db_instance_class" {
  description = "Instance class of the orders RDS instance."
  type        = string
  default     = "db.r6g.large"
}

variable "redis_node_type" {
  description = "ElastiCache node type for the shared cache."
  type        = string
  default     = "cache.r6g.large"
}

variable "redis_auth_token" {
  description = "AUTH token for the ElastiCache replication group."
  type        = string
  sensitive   = true
}

variable "private_zone_name" {
  description = "Route53 private hosted zone for internal endpoints."
  type        = string
  default     = "acme.internal"
}
