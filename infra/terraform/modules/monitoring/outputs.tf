output "alarm_arns" {
  description = "ARNs of the quorum and ceremony-failure alarms."
  value = {
    quorum           = aws_cloudwatch_metric_alarm.quorum.arn
    signing_failures = aws_cloudwatch_metric_alarm.signing_failures.arn
  }
}
