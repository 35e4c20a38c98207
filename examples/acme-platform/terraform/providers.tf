terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.50"
    }
  }

  # Per-environment state: terraform init -backend-config=envs/<env>/backend.hcl
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      company     = "acme"
      environment = var.environment
      managed-by  = "terraform"
      repo        = "acme/platform"
    }
  }
}
