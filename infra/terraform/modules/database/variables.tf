variable "name_prefix" {
  description = "Prefix for resource names and Name tags."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the deployment."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two AZs) for the DB subnet group."
  type        = list(string)
}

variable "coordinator_security_group_id" {
  description = "Security group of the coordinators: the only source admitted on 5432."
  type        = string
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major (or major.minor) engine version."
  type        = string
}

variable "allocated_storage_gb" {
  description = "Allocated storage in GiB."
  type        = number
}

variable "multi_az" {
  description = "Whether RDS runs a synchronous standby in a second AZ."
  type        = bool
}

variable "backup_retention_days" {
  description = "Days of automated backups kept (the audit log lives in this database)."
  type        = number
}

variable "database_name" {
  description = "Name of the database the coordinator uses."
  type        = string
}

variable "master_username" {
  description = "Master user name of the RDS instance (also the coordinator's user)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
}
