locals {
  party_ids = [for i in range(1, var.parties + 1) : tostring(i)]
  tags      = merge(var.tags, { "mpc-kms:deployment" = var.name_prefix })
}

module "network" {
  source = "./modules/network"

  name_prefix          = var.name_prefix
  region               = var.region
  vpc_cidr             = var.vpc_cidr
  az_count             = var.az_count
  interface_endpoints  = ["kms", "secretsmanager", "ssm", "ssmmessages", "ec2messages", "logs", "monitoring"]
  public_load_balancer = !var.alb_internal
  tags                 = local.tags
}

module "party" {
  source   = "./modules/party"
  for_each = toset(local.party_ids)

  name_prefix                   = var.name_prefix
  party_id                      = each.key
  region                        = var.region
  vpc_id                        = module.network.vpc_id
  subnet_id                     = module.network.private_subnet_ids[(tonumber(each.key) - 1) % var.az_count]
  instance_type                 = var.parent_instance_type
  ami_id                        = var.parent_ami_id
  root_volume_size_gb           = var.parent_root_volume_size_gb
  enclave_cpu_count             = var.enclave_cpu_count
  enclave_memory_mib            = var.enclave_memory_mib
  admitted_pcr0s                = var.admitted_pcr0s
  pcr8                          = var.admitted_pcr8
  key_admin_arns                = var.key_admin_arns
  coordinator_security_group_id = module.coordinator.security_group_id
  endpoints_security_group_id   = module.network.endpoints_security_group_id
  coordinator_port              = var.coordinator_port
  coordinator_public_key_pem    = var.coordinator_public_key_pem
  secret_prefix                 = var.secret_prefix
  tags                          = local.tags
}

module "database" {
  source = "./modules/database"

  name_prefix                   = var.name_prefix
  vpc_id                        = module.network.vpc_id
  private_subnet_ids            = module.network.private_subnet_ids
  coordinator_security_group_id = module.coordinator.security_group_id
  instance_class                = var.db_instance_class
  engine_version                = var.db_engine_version
  allocated_storage_gb          = var.db_allocated_storage_gb
  multi_az                      = var.db_multi_az
  backup_retention_days         = var.db_backup_retention_days
  database_name                 = "mpckms"
  master_username               = "mpckms"
  tags                          = local.tags
}

# The coordinator's security group feeds the parties' and the database's ingress rules, and their
# security groups feed its egress rules; every rule is a separate resource, so there is no cycle.
module "coordinator" {
  source = "./modules/coordinator"

  name_prefix                 = var.name_prefix
  region                      = var.region
  vpc_id                      = module.network.vpc_id
  private_subnet_ids          = module.network.private_subnet_ids
  public_subnet_ids           = module.network.public_subnet_ids
  internal                    = var.alb_internal
  allowed_client_cidrs        = var.allowed_client_cidrs
  certificate_arn             = var.certificate_arn
  instance_type               = var.coordinator_instance_type
  ami_id                      = var.coordinator_ami_id
  desired_capacity            = var.coordinator_count
  api_port                    = var.api_port
  party_addresses             = { for id, p in module.party : id => p.private_ip }
  party_security_group_ids    = { for id, p in module.party : id => p.security_group_id }
  party_port                  = var.coordinator_port
  database_security_group_id  = module.database.security_group_id
  database_url_secret_arn     = module.database.database_url_secret_arn
  endpoints_security_group_id = module.network.endpoints_security_group_id
  metrics_namespace           = var.metrics_namespace
  tags                        = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix                 = var.name_prefix
  metrics_namespace           = var.metrics_namespace
  quorum_threshold            = var.threshold
  ceremony_failures_threshold = var.ceremony_failures_threshold
  sns_topic_arn               = var.alarm_sns_topic_arn
  tags                        = local.tags
}
