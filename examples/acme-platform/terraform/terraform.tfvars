# Shared defaults for every environment; envs/<env>/terraform.tfvars overrides.
# The RDS password was meant to move to Secrets Manager (PLAT-290).
region                = "us-east-1"
vpc_id                = "vpc-0a1b2c3d4e5f60718"
private_subnet_ids    = ["subnet-0aa11bb22cc33dd44", "subnet-0ee55ff66aa77bb88", "subnet-0cc99dd00ee11ff22"]
eks_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/5C0FFEE0ACME0EKS0MAIN000000000001"
eks_oidc_provider_url = "oidc.eks.us-east-1.amazonaws.com/id/5C0FFEE0ACME0EKS0MAIN000000000001"
db_password           = "Tf-Orders-FAKE-Rds-pw-2024x"
redis_auth_token      = "FAKEredisAuthTok3n0123456789abcdef"
