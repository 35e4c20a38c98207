environment       = "prod"
db_instance_class = "db.r6g.2xlarge"
redis_node_type   = "cache.r6g.xlarge"
