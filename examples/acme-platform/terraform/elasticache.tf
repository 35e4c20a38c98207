resource "aws_elasticache_subnet_group" "cache" {
  name       = "${local.name_prefix}-cache"
  subnet_ids = var.private_subnet_ids
}

# Shared cache: checkout-web sessions, orders-api read-through cache, recommendations scores.
resource "aws_elasticache_replication_group" "cache" {
  replication_group_id       = "${local.name_prefix}-cache"
  description                = "Acme shared Redis cache (${var.environment})"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = local.is_prod ? 3 : 1
  automatic_failover_enabled = local.is_prod
  multi_az_enabled           = local.is_prod
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.cache.name
  security_group_ids         = [aws_security_group.data_stores.id]
  at_rest_encryption_enabled = true
  transit_encryption_enabled = local.is_prod
  auth_token                 = local.is_prod ? var.redis_auth_token : null
  snapshot_retention_limit   = local.is_prod ? 7 : 0
}
