resource "aws_kms_key" "data" {
  description             = "Encrypts orders RDS, the training-data and order-export buckets (${var.environment})"
  deletion_window_in_days = 30
  enable_key_rotation     = true

  tags = {
    data-class = "customer"
  }
}

resource "aws_kms_alias" "data" {
  name          = "alias/${local.name_prefix}-data"
  target_key_id = aws_kms_key.data.key_id
}
