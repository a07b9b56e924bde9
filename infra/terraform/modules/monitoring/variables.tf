variable "name_prefix" {
  description = "Prefix for alarm names."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the coordinator's metrics (published by the CloudWatch agent from /metrics)."
  type        = string
}

variable "quorum_threshold" {
  description = "Parties a signature needs; the quorum alarm fires when fewer are healthy."
  type        = number
}

variable "ceremony_failures_threshold" {
  description = "Ceremony failures per evaluation period above which the signing-failure alarm fires."
  type        = number
}

variable "sns_topic_arn" {
  description = "SNS topic notified by the alarms (alarm and OK); null for none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
}
