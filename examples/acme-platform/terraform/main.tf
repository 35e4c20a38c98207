locals {
  name_prefix = "acme-${var.environment}"
  # Prod buckets keep their historical names; other environments get a suffix.
  bucket_suffix = var.environment == "prod" ? "" : "-${var.environment}"
  is_prod       = var.environment == "prod"
}

data "aws_caller_identity" "current" {}

data "aws_route53_zone" "internal" {
  name         = var.private_zone_name
  private_zone = true
}

resource "aws_security_group" "data_stores" {
  name        = "${local.name_prefix}-data-stores"
  description = "RDS and ElastiCache, reachable from the EKS node groups only"
  vpc_id      = var.vpc_id

  ingress {
    description = "PostgreSQL from EKS"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }

  ingress {
    description = "Redis from EKS"
    from_port   = 6379
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
