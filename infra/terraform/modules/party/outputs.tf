output "role_arn" {
  description = "ARN of the party's IAM role (instance profile of the parent)."
  value       = aws_iam_role.parent.arn
}

output "kms_key_arn" {
  description = "ARN of the party's KMS sealing key."
  value       = aws_kms_key.party.arn
}

output "instance_id" {
  description = "ID of the parent instance."
  value       = aws_instance.parent.id
}

output "private_ip" {
  description = "Private IP of the parent instance (the coordinator connects to it)."
  value       = aws_instance.parent.private_ip
}

output "security_group_id" {
  description = "Security group of the parent instance."
  value       = aws_security_group.parent.id
}
