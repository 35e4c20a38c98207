# Stable internal names; apps use these rather than AWS endpoints.
resource "aws_route53_record" "redis" {
  zone_id = data.aws_route53_zone.internal.zone_id
  name    = "redis.${var.environment}.${var.private_zone_name}"
  type    = "CNAME"
  ttl     = 60
  records = [aws_elasticache_replication_group.cache.primary_endpoint_address]
}

resource "aws_route53_record" "orders_rds" {
  zone_id = data.aws_route53_zone.internal.zone_id
  name    = "orders-rds.${var.environment}.${var.private_zone_name}"
  type    = "CNAME"
  ttl     = 60
  records = [aws_db_instance.orders.address]
}
