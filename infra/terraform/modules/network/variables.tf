variable "name_prefix" {
  description = "Prefix for resource names and Name tags."
  type        = string
}

variable "region" {
  description = "AWS region; used to build the VPC endpoint service names."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (at least 2, for the load balancer and RDS)."
  type        = number
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints with private DNS (the only way out of the private subnets)."
  type        = list(string)
}

variable "public_load_balancer" {
  description = "Whether to create the public subnet pair and internet gateway used only by an internet-facing load balancer."
  type        = bool
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
}
