environment       = "staging"
db_instance_class = "db.t4g.large"
redis_node_type   = "cache.t4g.medium"
db_password       = "Stg-Orders-FAKE-pw-31415"
