variable "region" {
  description = "AWS region of the deployment."
  type        = string
}

variable "name_prefix" {
  description = "Prefix for resource names."
  type        = string
  default     = "mpc-kms"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags applied to every resource (provider default_tags)."
  type        = map(string)
  default     = { Application = "mpc-kms" }
}

variable "parties" {
  description = "Number of signer parties (n); one parent instance, enclave, role and KMS key each."
  type        = number

  validation {
    condition     = var.parties >= 2 && var.parties <= 16 && floor(var.parties) == var.parties
    error_message = "parties must be a whole number from 2 to 16."
  }
}

variable "threshold" {
  description = "Signing threshold (t): parties a signature needs; the quorum alarm fires below it."
  type        = number

  validation {
    condition     = var.threshold >= 1 && var.threshold <= var.parties && floor(var.threshold) == var.threshold
    error_message = "threshold must be a whole number from 1 to parties."
  }
}

variable "admitted_pcr0s" {
  description = "Enclave image measurements (PCR0, 96 hex characters) admitted by every party's KMS key policy; two while an upgrade rolls. From `npx mpc-kms pcrs --format tfvars nitro/measurements/<version>.json`."
  type        = list(string)

  validation {
    condition     = length(var.admitted_pcr0s) >= 1 && length(var.admitted_pcr0s) <= 4 && alltrue([for p in var.admitted_pcr0s : can(regex("^[0-9a-f]{96}$", p))])
    error_message = "admitted_pcr0s must hold 1 to 4 PCR0 values of 96 lowercase hex characters each."
  }

  validation {
    condition     = alltrue([for p in var.admitted_pcr0s : p != join("", [for i in range(96) : "0"])])
    error_message = "An all-zero PCR0 is a debug-mode enclave and must never be admitted."
  }
}

variable "admitted_pcr8" {
  description = "Optional PCR8 (96 hex characters: hash of the EIF signing certificate); when set, the KMS keys also require it."
  type        = string
  default     = null

  validation {
    condition     = var.admitted_pcr8 == null ? true : can(regex("^[0-9a-f]{96}$", var.admitted_pcr8))
    error_message = "admitted_pcr8 must be 96 lowercase hex characters, or null."
  }
}

variable "key_admin_arns" {
  description = "IAM principals that administer (never use) the parties' KMS keys; must include the role that runs Terraform."
  type        = list(string)

  validation {
    condition     = length(var.key_admin_arns) >= 1 && alltrue([for a in var.key_admin_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", a))])
    error_message = "key_admin_arns must hold at least one IAM ARN."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC (split into /20s for a /16)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "az_count" {
  description = "Availability zones used (parents are spread over them round-robin)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6."
  }
}

variable "parent_ami_id" {
  description = "Pre-baked parent AMI (nitro-cli, Node.js, mpc-kms, the EIF, nitro/systemd units)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.parent_ami_id))
    error_message = "parent_ami_id must be an AMI ID."
  }
}

variable "parent_instance_type" {
  description = "Nitro Enclaves-capable instance type of the parents."
  type        = string
  default     = "m6i.xlarge"
}

variable "parent_root_volume_size_gb" {
  description = "Encrypted root volume size of each parent, GiB."
  type        = number
  default     = 30
}

variable "enclave_cpu_count" {
  description = "vCPUs allocated to each enclave (even, less than the parent's)."
  type        = number
  default     = 2
}

variable "enclave_memory_mib" {
  description = "Memory allocated to each enclave, MiB."
  type        = number
  default     = 4096
}

variable "coordinator_port" {
  description = "Parent-proxy port to which the coordinator connects."
  type        = number
  default     = 7000
}

variable "coordinator_public_key_pem" {
  description = "The coordinator's Ed25519 identity public key (SPKI PEM; the public half of its --identity-key). Every enclave gets it at boot and refuses channels whose transcript it did not sign."
  type        = string

  validation {
    condition     = startswith(trimspace(var.coordinator_public_key_pem), "-----BEGIN PUBLIC KEY-----")
    error_message = "coordinator_public_key_pem must be a PEM public key."
  }
}

variable "secret_prefix" {
  description = "Secrets Manager prefix of sealed shares (the enclave's default is mpc-kms/keys)."
  type        = string
  default     = "mpc-kms/keys"
}

variable "coordinator_ami_id" {
  description = "Pre-baked coordinator AMI (Node.js, mpc-kms, its systemd unit, the CloudWatch agent)."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.coordinator_ami_id))
    error_message = "coordinator_ami_id must be an AMI ID."
  }
}

variable "coordinator_instance_type" {
  description = "Instance type of the coordinators."
  type        = string
  default     = "m6i.large"
}

variable "coordinator_count" {
  description = "Coordinator instances kept by the autoscaling group."
  type        = number
  default     = 1
}

variable "api_port" {
  description = "Port of the coordinator's REST API behind the load balancer."
  type        = number
  default     = 8080
}

variable "certificate_arn" {
  description = "ACM certificate ARN of the load balancer's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "alb_internal" {
  description = "Whether the load balancer is internal (no public subnets or internet gateway are created then)."
  type        = bool
  default     = true
}

variable "allowed_client_cidrs" {
  description = "IPv4 CIDR blocks admitted to the load balancer."
  type        = list(string)
  default     = ["10.0.0.0/8"]
}

variable "db_instance_class" {
  description = "RDS instance class of the metadata store."
  type        = string
  default     = "db.m6g.large"
}

variable "db_engine_version" {
  description = "PostgreSQL engine version of the metadata store."
  type        = string
  default     = "16"
}

variable "db_allocated_storage_gb" {
  description = "RDS allocated storage, GiB."
  type        = number
  default     = 50
}

variable "db_multi_az" {
  description = "Whether RDS runs a multi-AZ standby."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of RDS automated backups."
  type        = number
  default     = 14
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the coordinator metrics."
  type        = string
  default     = "mpckms"
}

variable "ceremony_failures_threshold" {
  description = "Ceremony failures per 5 minutes above which the signing-failure alarm fires."
  type        = number
  default     = 0
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for the alarms; null for none."
  type        = string
  default     = null
}
