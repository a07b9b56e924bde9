variable "name_prefix" {
  description = "Prefix for resource names and Name tags."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the deployment."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the coordinator instances (and for the load balancer when it is internal)."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets for an internet-facing load balancer; ignored when internal."
  type        = list(string)
}

variable "internal" {
  description = "Whether the load balancer is internal (true) or internet-facing (false)."
  type        = bool
}

variable "allowed_client_cidrs" {
  description = "IPv4 CIDR blocks admitted to the load balancer on 443 (and 80, redirected)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate ARN of the HTTPS listener."
  type        = string
}

variable "instance_type" {
  description = "Instance type of the coordinators."
  type        = string
}

variable "ami_id" {
  description = "Coordinator AMI, pre-baked with Node.js, mpc-kms, its systemd unit and the CloudWatch agent."
  type        = string
}

variable "desired_capacity" {
  description = "Number of coordinator instances the autoscaling group keeps running."
  type        = number
}

variable "api_port" {
  description = "Port of the coordinator's REST API."
  type        = number
}

variable "party_addresses" {
  description = "Party id to parent private IP; the coordinator connects to each on party_port."
  type        = map(string)
}

variable "party_security_group_ids" {
  description = "Party id to parent security group id; the coordinators' egress on party_port goes only there."
  type        = map(string)
}

variable "party_port" {
  description = "TCP port of parent-proxy's coordinator listener."
  type        = number
}

variable "database_security_group_id" {
  description = "Security group of the RDS instance; the coordinators' egress on 5432 goes only there."
  type        = string
}

variable "database_url_secret_arn" {
  description = "Secrets Manager ARN of the DATABASE_URL secret the coordinator reads at start."
  type        = string
}

variable "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints (Secrets Manager, SSM, CloudWatch)."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace into which the CloudWatch agent publishes the scraped /metrics."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
}
