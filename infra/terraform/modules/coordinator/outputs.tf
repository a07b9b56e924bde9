output "alb_dns_name" {
  description = "DNS name of the load balancer (point the API's DNS record at it)."
  value       = aws_lb.api.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone ID of the load balancer, for an alias record."
  value       = aws_lb.api.zone_id
}

output "security_group_id" {
  description = "Security group of the coordinator instances."
  value       = aws_security_group.coordinator.id
}

output "role_arn" {
  description = "ARN of the coordinators' IAM role."
  value       = aws_iam_role.coordinator.arn
}

output "autoscaling_group_name" {
  description = "Name of the coordinators' autoscaling group."
  value       = aws_autoscaling_group.coordinator.name
}
