variable "name_prefix" {
  description = "Prefix for resource names and Name tags."
  type        = string
}

variable "party_id" {
  description = "Party number (1..n) of this signer, as used by the protocol and in secret names."
  type        = string
}

variable "region" {
  description = "AWS region, passed to the enclave for its KMS and Secrets Manager endpoints."
  type        = string
}

variable "vpc_id" {
  description = "VPC in which the parent instance runs."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet (no internet route) for the parent instance."
  type        = string
}

variable "instance_type" {
  description = "Nitro-based instance type with Nitro Enclaves support for the parent (at least 4 vCPUs)."
  type        = string
}

variable "ami_id" {
  description = "Parent AMI, pre-baked with nitro-cli, Node.js, mpc-kms, the enclave image (EIF) and the nitro/systemd units; parents have no internet egress, so nothing is downloaded at boot."
  type        = string
}

variable "root_volume_size_gb" {
  description = "Size of the parent's encrypted root volume in GiB."
  type        = number
}

variable "enclave_cpu_count" {
  description = "vCPUs given to the enclave (written to the parent's environment file for the enclave unit)."
  type        = number
}

variable "enclave_memory_mib" {
  description = "Memory in MiB given to the enclave (written to the parent's environment file for the enclave unit)."
  type        = number
}

variable "admitted_pcr0s" {
  description = "PCR0 (ImageSha384) values, 96 lowercase hex characters each, whose enclaves may use this party's KMS key; two during an upgrade roll."
  type        = list(string)
}

variable "pcr8" {
  description = "Optional PCR8 (hash of the EIF signing certificate); when set, the KMS key also requires it."
  type        = string
  default     = null
}

variable "key_admin_arns" {
  description = "IAM principals that administer the party's KMS key (never use it); must include the principal that runs Terraform."
  type        = list(string)
}

variable "coordinator_security_group_id" {
  description = "Security group of the coordinators: the only source admitted to the parent's port."
  type        = string
}

variable "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints: the parent's only egress destination."
  type        = string
}

variable "coordinator_port" {
  description = "TCP port on which parent-proxy accepts the coordinator's connection."
  type        = number
}

variable "coordinator_public_key_pem" {
  description = "The coordinator's Ed25519 identity public key (SPKI PEM), written into the enclave's boot document."
  type        = string
}

variable "secret_prefix" {
  description = "Secrets Manager name prefix under which enclaves store sealed shares (enclave/share-store.ts default: mpc-kms/keys)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
}
