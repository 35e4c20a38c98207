output "orders_rds_endpoint" {
  description = "Hostname of the orders RDS instance."
  value       = aws_db_instance.orders.address
}

output "training_data_bucket" {
  description = "Bucket the training-data-export job writes to."
  value       = aws_s3_bucket.training_data.bucket
}

output "order_exports_bucket" {
  description = "Bucket for customer order exports."
  value       = aws_s3_bucket.order_exports.bucket
}

output "training_export_role_arn" {
  description = "IRSA role for the training-data-export ServiceAccount."
  value       = aws_iam_role.training_export.arn
}

output "redis_endpoint" {
  description = "Internal DNS name of the shared cache."
  value       = aws_route53_record.redis.fqdn
}
