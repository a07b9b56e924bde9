data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "${var.name_prefix}-party-${var.party_id}"
  # Sealed shares are "<prefix>/<key id>/party-<n>" and presignatures ".../party-<n>/presignatures";
  # Secrets Manager appends "-" and six random characters to every ARN.
  secret_arn_base = "arn:${data.aws_partition.current.partition}:secretsmanager:${var.region}:${data.aws_caller_identity.current.account_id}:secret:${var.secret_prefix}"
}

# ---------------------------------------------------------------- IAM: one role per party

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "parent" {
  name               = local.name
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
  tags               = var.tags
}

# SSM Session Manager replaces SSH: no key pair, no port 22.
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.parent.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "secrets" {
  statement {
    sid = "SealedSharesOfThisParty"
    actions = [
      "secretsmanager:CreateSecret",
      "secretsmanager:PutSecretValue",
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
      "secretsmanager:UpdateSecretVersionStage",
      "secretsmanager:ListSecretVersionIds",
    ]
    resources = [
      "${local.secret_arn_base}/*/party-${var.party_id}-??????",
      "${local.secret_arn_base}/*/party-${var.party_id}/*",
    ]
  }
}

resource "aws_iam_role_policy" "secrets" {
  name   = "sealed-shares"
  role   = aws_iam_role.parent.id
  policy = data.aws_iam_policy_document.secrets.json
}

resource "aws_iam_instance_profile" "parent" {
  name = local.name
  role = aws_iam_role.parent.name
  tags = var.tags
}

# ---------------------------------------------------------------- KMS: one key per party

# No statement grants kms:* to the account root, so no IAM policy can widen use of this key: the
# party role may Decrypt / GenerateDataKey only with a Recipient attestation document whose PCR0
# is admitted, and the admins may manage the key but never use it.
data "aws_iam_policy_document" "key" {
  statement {
    sid    = "AttestedEnclaveOfThisPartyOnly"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.parent.arn]
    }
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    condition {
      test     = "StringEqualsIgnoreCase"
      variable = "kms:RecipientAttestation:ImageSha384"
      values   = var.admitted_pcr0s
    }

    dynamic "condition" {
      for_each = var.pcr8 == null ? [] : [var.pcr8]
      content {
        test     = "StringEqualsIgnoreCase"
        variable = "kms:RecipientAttestation:PCR8"
        values   = [condition.value]
      }
    }
  }

  statement {
    sid    = "DescribeForThePartyRole"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.parent.arn]
    }
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
  }

  statement {
    sid    = "KeyAdministration"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = var.key_admin_arns
    }
    actions = [
      "kms:Create*",
      "kms:Describe*",
      "kms:Enable*",
      "kms:List*",
      "kms:Put*",
      "kms:Update*",
      "kms:Revoke*",
      "kms:Disable*",
      "kms:Get*",
      "kms:Delete*",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:ScheduleKeyDeletion",
      "kms:CancelKeyDeletion",
      "kms:RotateKeyOnDemand",
    ]
    resources = ["*"]
  }
}

resource "aws_kms_key" "party" {
  description             = "mpc-kms sealing key of party ${var.party_id} (attested enclaves only)"
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = merge(var.tags, { Name = local.name })
}

resource "aws_kms_alias" "party" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.party.key_id
}

# ---------------------------------------------------------------- network

resource "aws_security_group" "parent" {
  name_prefix = "${local.name}-"
  description = "mpc-kms parent ${var.party_id}: coordinator port from coordinators only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = local.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_coordinator" {
  security_group_id            = aws_security_group.parent.id
  description                  = "parent-proxy coordinator port, from the coordinators only"
  ip_protocol                  = "tcp"
  from_port                    = var.coordinator_port
  to_port                      = var.coordinator_port
  referenced_security_group_id = var.coordinator_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "to_endpoints" {
  security_group_id            = aws_security_group.parent.id
  description                  = "HTTPS to the VPC endpoints (KMS, Secrets Manager, SSM) only"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.endpoints_security_group_id
}

# ---------------------------------------------------------------- parent instance

resource "aws_instance" "parent" {
  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = [aws_security_group.parent.id]
  iam_instance_profile   = aws_iam_instance_profile.parent.name
  # No key_name: access is through SSM Session Manager only.

  enclave_options {
    enabled = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
    volume_size = var.root_volume_size_gb
  }

  # The units themselves are nitro/systemd/*.service in the repository, baked into the AMI under
  # /opt/mpc-kms/nitro/systemd/; user data only writes this party's settings and starts them.
  user_data = templatefile("${path.module}/user-data.sh.tftpl", {
    party_id         = var.party_id
    region           = var.region
    kms_key_arn      = aws_kms_key.party.arn
    secret_prefix    = var.secret_prefix
    coordinator_port = var.coordinator_port
    enclave_config = jsonencode({
      party          = tonumber(var.party_id)
      listen         = "vsock:any:5000"
      region         = var.region
      kms            = { endpoint = "https://kms.${var.region}.amazonaws.com", via = "vsock:3:8000" }
      secretsManager = { endpoint = "https://secretsmanager.${var.region}.amazonaws.com", via = "vsock:3:8001" }
      kmsKeyId       = aws_kms_key.party.arn
      coordinatorKey = var.coordinator_public_key_pem
    })
    enclave_cpu_count  = var.enclave_cpu_count
    enclave_memory_mib = var.enclave_memory_mib
  })
  user_data_replace_on_change = true

  tags = merge(var.tags, { Name = local.name, "mpc-kms:party" = var.party_id })

  lifecycle {
    # A new AMI is rolled out by the upgrade procedure (one parent at a time), not by a plan
    # that happens to see a new image ID.
    ignore_changes = [ami]
  }
}
