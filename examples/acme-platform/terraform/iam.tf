# IRSA role for the training-data-export CronJob: read nothing, write one prefix
# of one bucket. ServiceAccount: k8s/base/rbac.yaml.
data "aws_iam_policy_document" "training_export_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.eks_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${var.eks_oidc_provider_url}:sub"
      values   = ["system:serviceaccount:acme-${var.environment}:training-data-export"]
    }
  }
}

resource "aws_iam_role" "training_export" {
  name               = "acme-training-data-export-${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.training_export_trust.json
}

data "aws_iam_policy_document" "training_export" {
  statement {
    sid       = "WriteTrainingData"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.training_data.arn}/orders/*"]
  }

  statement {
    sid       = "ListTrainingData"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.training_data.arn]
  }

  statement {
    sid       = "UseDataKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.data.arn]
  }
}

resource "aws_iam_policy" "training_export" {
  name   = "acme-training-data-export-${var.environment}"
  policy = data.aws_iam_policy_document.training_export.json
}

resource "aws_iam_role_policy_attachment" "training_export" {
  role       = aws_iam_role.training_export.name
  policy_arn = aws_iam_policy.training_export.arn
}
