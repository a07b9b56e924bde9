data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "${var.name_prefix}-coordinator"
  party_args = join(" ", [
    for id in sort(keys(var.party_addresses)) : "--party ${id}=tcp:${var.party_addresses[id]}:${var.party_port}"
  ])
}

# ---------------------------------------------------------------- security groups

resource "aws_security_group" "alb" {
  name_prefix = "${local.name}-alb-"
  description = "mpc-kms load balancer"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${local.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.allowed_client_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from API callers"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each          = toset(var.allowed_client_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from API callers, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_coordinator" {
  security_group_id            = aws_security_group.alb.id
  description                  = "to the coordinators' API port"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.coordinator.id
}

resource "aws_security_group" "coordinator" {
  name_prefix = "${local.name}-"
  description = "mpc-kms coordinator: API port from the load balancer only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = local.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "coordinator_from_alb" {
  security_group_id            = aws_security_group.coordinator.id
  description                  = "REST API from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = var.api_port
  to_port                      = var.api_port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "coordinator_to_parents" {
  for_each                     = var.party_security_group_ids
  security_group_id            = aws_security_group.coordinator.id
  description                  = "to parent ${each.key}'s coordinator port"
  ip_protocol                  = "tcp"
  from_port                    = var.party_port
  to_port                      = var.party_port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "coordinator_to_database" {
  security_group_id            = aws_security_group.coordinator.id
  description                  = "to PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.database_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "coordinator_to_endpoints" {
  security_group_id            = aws_security_group.coordinator.id
  description                  = "HTTPS to the VPC endpoints (Secrets Manager, SSM, CloudWatch)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

# ---------------------------------------------------------------- IAM

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "coordinator" {
  name               = local.name
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.coordinator.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy_attachment" "cloudwatch_agent" {
  role       = aws_iam_role.coordinator.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/CloudWatchAgentServerPolicy"
}

data "aws_iam_policy_document" "secrets" {
  statement {
    sid       = "DatabaseUrlAndCoordinatorSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.database_url_secret_arn, "arn:${data.aws_partition.current.partition}:secretsmanager:${var.region}:${data.aws_caller_identity.current.account_id}:secret:mpc-kms/coordinator/*"]
  }
}

resource "aws_iam_role_policy" "secrets" {
  name   = "coordinator-secrets"
  role   = aws_iam_role.coordinator.id
  policy = data.aws_iam_policy_document.secrets.json
}

resource "aws_iam_instance_profile" "coordinator" {
  name = local.name
  role = aws_iam_role.coordinator.name
  tags = var.tags
}

# ---------------------------------------------------------------- instances

resource "aws_launch_template" "coordinator" {
  name_prefix            = "${local.name}-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.coordinator.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.coordinator.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted   = true
      volume_type = "gp3"
      volume_size = 20
    }
  }

  user_data = base64encode(templatefile("${path.module}/user-data.sh.tftpl", {
    region            = var.region
    api_port          = var.api_port
    party_args        = local.party_args
    database_secret   = var.database_url_secret_arn
    metrics_namespace = var.metrics_namespace
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = local.name })
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "coordinator" {
  name_prefix               = "${local.name}-"
  vpc_zone_identifier       = var.private_subnet_ids
  min_size                  = var.desired_capacity
  max_size                  = var.desired_capacity
  desired_capacity          = var.desired_capacity
  health_check_type         = "ELB"
  health_check_grace_period = 120
  target_group_arns         = [aws_lb_target_group.api.arn]

  launch_template {
    id      = aws_launch_template.coordinator.id
    version = aws_launch_template.coordinator.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
}

# ---------------------------------------------------------------- load balancer

resource "aws_lb" "api" {
  name_prefix                = "mpckms"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.internal ? var.private_subnet_ids : var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  tags                       = merge(var.tags, { Name = "${local.name}-alb" })
}

resource "aws_lb_target_group" "api" {
  name_prefix          = "mpckms"
  port                 = var.api_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  deregistration_delay = 60

  health_check {
    path                = "/healthz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
