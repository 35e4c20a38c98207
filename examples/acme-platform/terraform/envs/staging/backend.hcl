bucket         = "acme-terraform-state"
key            = "platform/staging/terraform.tfstate"
region         = "us-east-1"
dynamodb_table = "acme-terraform-locks"
encrypt        = true
