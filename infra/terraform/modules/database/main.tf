resource "aws_security_group" "db" {
  name_prefix = "${var.name_prefix}-db-"
  description = "mpc-kms metadata store: PostgreSQL from the coordinators only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_coordinator" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the coordinators only"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.coordinator_security_group_id
}

resource "aws_db_subnet_group" "this" {
  name_prefix = "${var.name_prefix}-"
  subnet_ids  = var.private_subnet_ids
  tags        = var.tags
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name_prefix}-"
  family      = "postgres${split(".", var.engine_version)[0]}"
  tags        = var.tags

  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The password is in Terraform state (keep the state encrypted and access-controlled) and in the
# DATABASE_URL secret below, which only the coordinator role may read.
resource "random_password" "master" {
  length           = 40
  special          = true
  override_special = "-_.~" # unreserved in URLs, so the DATABASE_URL needs no escaping
}

resource "aws_db_instance" "this" {
  identifier_prefix               = "${var.name_prefix}-"
  engine                          = "postgres"
  engine_version                  = var.engine_version
  instance_class                  = var.instance_class
  allocated_storage               = var.allocated_storage_gb
  storage_type                    = "gp3"
  storage_encrypted               = true
  db_name                         = var.database_name
  username                        = var.master_username
  password                        = random_password.master.result
  multi_az                        = var.multi_az
  publicly_accessible             = false
  deletion_protection             = true
  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [aws_security_group.db.id]
  parameter_group_name            = aws_db_parameter_group.this.name
  backup_retention_period         = var.backup_retention_days
  copy_tags_to_snapshot           = true
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${var.name_prefix}-final"
  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
  tags                            = var.tags
}

resource "aws_secretsmanager_secret" "database_url" {
  name_prefix             = "mpc-kms/coordinator/database-url-"
  description             = "DATABASE_URL of the mpc-kms coordinator"
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = "postgres://${var.master_username}:${random_password.master.result}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${var.database_name}?sslmode=verify-full"
}
