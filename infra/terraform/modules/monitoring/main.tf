locals {
  actions = var.sns_topic_arn == null ? [] : [var.sns_topic_arn]
}

# healthy_parties (gauge): enclaves whose attested channel to the coordinator is up. Missing data
# means no coordinator is reporting, which is treated as a lost quorum.
resource "aws_cloudwatch_metric_alarm" "quorum" {
  alarm_name          = "${var.name_prefix}-quorum-lost"
  alarm_description   = "Fewer healthy enclave signers than the signing threshold: signing is unavailable."
  namespace           = var.metrics_namespace
  metric_name         = "healthy_parties"
  dimensions          = { job = "mpckms" }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "LessThanThreshold"
  threshold           = var.quorum_threshold
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# ceremony_failures_total (counter): the CloudWatch agent publishes a counter's increase per
# scrape, so Sum over a period is the number of failed ceremonies in it.
resource "aws_cloudwatch_metric_alarm" "signing_failures" {
  alarm_name          = "${var.name_prefix}-ceremony-failures"
  alarm_description   = "Ceremonies (signing, key generation, refresh) are failing; see ceremony_failures_total{reason,blamed}."
  namespace           = var.metrics_namespace
  metric_name         = "ceremony_failures_total"
  dimensions          = { job = "mpckms" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.ceremony_failures_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
