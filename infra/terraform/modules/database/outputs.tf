output "security_group_id" {
  description = "Security group of the RDS instance."
  value       = aws_security_group.db.id
}

output "database_url_secret_arn" {
  description = "ARN of the DATABASE_URL secret."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "endpoint" {
  description = "Address of the RDS instance."
  value       = aws_db_instance.this.address
}
