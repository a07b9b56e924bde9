output "alb_dns_name" {
  description = "DNS name of the API load balancer."
  value       = module.coordinator.alb_dns_name
}

output "kms_key_arns" {
  description = "Each party's KMS sealing key ARN, by party id."
  value       = { for id, p in module.party : id => p.kms_key_arn }
}

output "party_role_arns" {
  description = "Each party's IAM role ARN, by party id."
  value       = { for id, p in module.party : id => p.role_arn }
}

output "parent_instance_ids" {
  description = "Each party's parent instance ID, by party id (for SSM sessions and the upgrade roll)."
  value       = { for id, p in module.party : id => p.instance_id }
}

output "coordinator_role_arn" {
  description = "IAM role ARN of the coordinators."
  value       = module.coordinator.role_arn
}

output "database_url_secret_arn" {
  description = "ARN of the coordinator's DATABASE_URL secret."
  value       = module.database.database_url_secret_arn
}
