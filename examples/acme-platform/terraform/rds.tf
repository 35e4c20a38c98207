# Managed PostgreSQL for orders: migration target for the in-cluster orders-db
# StatefulSet (k8s/base/orders-db.yaml). Logical replication runs from orders-db.
resource "aws_db_subnet_group" "orders" {
  name       = "${local.name_prefix}-orders"
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_instance" "orders" {
  identifier     = "${local.name_prefix}-orders"
  engine         = "postgres"
  engine_version = "16.3"
  instance_class = var.db_instance_class

  allocated_storage     = 500
  max_allocated_storage = 2000
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.data.arn

  db_name  = "orders"
  username = var.db_username
  password = var.db_password

  multi_az               = local.is_prod
  db_subnet_group_name   = aws_db_subnet_group.orders.name
  vpc_security_group_ids = [aws_security_group.data_stores.id]
  publicly_accessible    = false

  backup_retention_period   = local.is_prod ? 30 : 7
  backup_window             = "03:00-04:00"
  maintenance_window        = "sun:04:30-sun:05:30"
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name_prefix}-orders-final"
  copy_tags_to_snapshot     = true

  performance_insights_enabled = true

  tags = {
    data-class = "customer"
    system     = "orders"
  }

  lifecycle {
    prevent_destroy = true
    ignore_changes  = [password]
  }
}
