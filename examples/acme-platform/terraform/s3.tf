# Training data for the recommendations model, written nightly by the
# training-data-export CronJob (k8s/base/training-data-export.yaml).
resource "aws_s3_bucket" "training_data" {
  bucket = "acme-training-data${local.bucket_suffix}"

  tags = {
    data-class = "training-data"
    owner      = "data-eng"
  }
}

resource "aws_s3_bucket_versioning" "training_data" {
  bucket = aws_s3_bucket.training_data.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "training_data" {
  bucket = aws_s3_bucket.training_data.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "training_data" {
  bucket                  = aws_s3_bucket.training_data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "training_data" {
  bucket = aws_s3_bucket.training_data.id

  rule {
    id     = "expire-daily-exports"
    status = "Enabled"

    filter {
      prefix = "orders/daily/"
    }

    expiration {
      days = 90
    }
  }
}

# Customer order exports requested through the admin API (GET /admin/exports).
# Contains customer names and addresses.
resource "aws_s3_bucket" "order_exports" {
  bucket = "acme-order-exports${local.bucket_suffix}"

  tags = {
    data-class = "customer"
    owner      = "orders"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "order_exports" {
  bucket = aws_s3_bucket.order_exports.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.data.arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "order_exports" {
  bucket                  = aws_s3_bucket.order_exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
