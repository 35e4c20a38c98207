"""Terraform scanner: resources, protection, tags, IAM, modules, secrets, environments."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from inventory.config import Config
from inventory.scan import scan_paths
from inventory.scanners.base import Fragment, ScanContext, SourceFile
from inventory.scanners.terraform import TerraformScanner, _Lines, _opens_block

MAIN_TF = '''variable "environment" {
  default = "staging"
}

resource "aws_s3_bucket" "training" {
  bucket        = "acme-training-data"
  force_destroy = false
  tags = {
    "data-class" = "training-data"
    team         = "ml-platform"
  }
  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "training" {
  bucket = aws_s3_bucket.training.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_db_instance" "orders" {
  identifier          = "orders"
  engine              = "postgres"
  password            = "hunter2-but-longer"
  deletion_protection = true
}

resource "aws_db_instance" "legacy" {
  identifier = "legacy-${var.environment}"
  engine     = "mysql"
}

resource "aws_elasticache_cluster" "scratch" {
  cluster_id = "scratch"
  engine     = "redis"
}

data "aws_iam_policy_document" "read" {
  statement {
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.training.arn]
  }
}

resource "aws_iam_policy" "reader" {
  name   = "training-reader"
  policy = data.aws_iam_policy_document.read.json
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.0"
}

resource "aws_instance" "web" {
  ami = "ami-123"
}
'''


def _scan(text: str, path: str = "terraform/main.tf") -> Fragment:
    return TerraformScanner().scan(SourceFile(path=path, text=text), ScanContext(config=Config()))


def _res(frag: Fragment) -> dict:
    return {r.id: r for r in frag.resources}


def test_matches_terraform_files_only() -> None:
    s = TerraformScanner()
    from pathlib import PurePosixPath as P

    assert s.matches(P("a/main.tf"), "") and s.matches(P("prod.tfvars"), "") and s.matches(P("x.tf.json"), "")
    assert not s.matches(P("main.tfstate"), "") and not s.matches(P("tf.yaml"), "")


def test_resources_named_from_literal_attributes_and_kinds_refined() -> None:
    res = _res(_scan(MAIN_TF))
    assert set(res) == {
        "object-bucket:acme-training-data",
        "postgres:orders",
        "mysql:legacy",  # interpolated identifier → block label; engine → mysql
        "redis:scratch",
        "iam:policy-training-reader",
        "other:tf-module-vpc",
    }
    assert res["postgres:orders"].subtype == "aws_db_instance"
    assert res["postgres:orders"].attributes["terraform_address"] == "aws_db_instance.orders"
    assert res["postgres:orders"].stateful is True


def test_deletion_protection_sources() -> None:
    res = _res(_scan(MAIN_TF))
    bucket = res["object-bucket:acme-training-data"]
    assert bucket.deletion_protection is True
    assert {(f.name, f.value, f.evidence[0].line) for f in bucket.facts} >= {("prevent_destroy", True, 13), ("force_destroy", False, 7)}
    assert res["postgres:orders"].deletion_protection is True
    assert res["redis:scratch"].deletion_protection is None
    destroyable = _res(_scan('resource "aws_s3_bucket" "t" {\n  bucket = "tmp"\n  force_destroy = true\n}\n'))
    assert destroyable["object-bucket:tmp"].deletion_protection is False


def test_tags_give_owner_data_class_and_subresources_merge() -> None:
    frag = _scan(MAIN_TF)
    bucket = _res(frag)["object-bucket:acme-training-data"]
    assert bucket.owners == ["ml-platform"]
    assert bucket.data_classes == ["training-data"]
    assert [o.name for o in frag.owners] == ["ml-platform"]
    assert bucket.attributes["versioning"] is True
    assert [e.line for e in bucket.evidence] == [5, 17]


def test_environment_from_variable_default_and_from_directory() -> None:
    assert _res(_scan(MAIN_TF))["postgres:orders"].environments == ["staging"]
    frag = _scan('resource "aws_sqs_queue" "q" {\n  name = "jobs"\n}\n', path="infra/envs/prod/queues.tf")
    q = _res(frag)["queue:jobs"]
    assert q.environments == ["prod"]
    assert q.facts[0].name == "environment"


def test_iam_actions_resources_and_wildcards() -> None:
    frag = _scan(MAIN_TF)
    pol = _res(frag)["iam:policy-training-reader"]
    assert pol.attributes["actions"] == ["s3:*"]
    assert pol.attributes["wildcard_actions"] is True
    assert "aws_s3_bucket.training" in pol.attributes["resources"]
    assert ["iam:policy-training-reader", "aws_s3_bucket.training"] == frag.extra["refs"][0][:2]
    inline = _scan(
        'resource "aws_iam_role_policy" "p" {\n  name = "p"\n  role = "r"\n'
        '  policy = jsonencode({\n    Statement = [{ Action = ["kms:Decrypt"], Effect = "Allow", Resource = "*" }]\n  })\n}\n'
    )
    p = _res(inline)["iam:role-policy-p"]
    assert p.attributes["actions"] == ["kms:Decrypt"]
    assert p.attributes["wildcard_resources"] is True
    assert "wildcard_actions" not in p.attributes


def test_module_block() -> None:
    mod = _res(_scan(MAIN_TF))["other:tf-module-vpc"]
    assert mod.subtype == "terraform-module"
    assert mod.name == "module.vpc"  # its address, never the bare label
    assert mod.attributes == {"source": "terraform-aws-modules/vpc/aws", "version": "5.0",
                              "terraform_address": "module.vpc"}


def test_literal_secrets_are_recorded_never_kept() -> None:
    frag = _scan(MAIN_TF)
    assert [e.line for e in frag.secrets] == [27]
    assert "hunter2" not in frag.model_dump_json()
    tfvars = TerraformScanner().scan(
        SourceFile(path="envs/prod/prod.tfvars", text='environment = "prod"\ndb_password = "s3cr3t-v4lue"\nregion = "eu-west-1"\n'),
        ScanContext(config=Config()),
    )
    assert [e.line for e in tfvars.secrets] == [2]
    assert "s3cr3t" not in tfvars.model_dump_json()
    assert tfvars.extra["vars_env"] == "prod"


def test_syntax_error_is_a_warning_with_line() -> None:
    frag = _scan('resource "aws_s3_bucket" "a" {\n  bucket = "x"\n  tags = {\n    a = \n  }\n}\n')
    assert frag.resources == []
    assert len(frag.warnings) == 1
    assert frag.warnings[0].line == 4
    assert frag.warnings[0].message.startswith("invalid HCL: unexpected")
    leaky = _scan('variable "db_password" {\n  default = "s3cr3t-half\n}\n')
    assert leaky.warnings and "s3cr3t" not in leaky.warnings[0].message


def test_tf_json_resources() -> None:
    text = '{"resource": {"aws_s3_bucket": {"logs": {"bucket": "acme-logs", "force_destroy": true}}}}'
    frag = _scan(text, path="tf/main.tf.json")
    assert _res(frag)["object-bucket:acme-logs"].deletion_protection is False


def test_whole_tree_scan_links_references_and_tfvars_environment(tmp_path: Path) -> None:
    d = tmp_path / "stack"
    d.mkdir()
    (d / "s3.tf").write_text('resource "aws_s3_bucket" "training" {\n  bucket = "acme-training-data"\n}\n')
    (d / "iam.tf").write_text(
        'resource "aws_iam_policy" "reader" {\n  name = "reader"\n'
        '  policy = jsonencode({ Statement = [{ Action = "s3:GetObject", Resource = aws_s3_bucket.training.arn }] })\n}\n'
    )
    (d / "terraform.tfvars").write_text('environment = "staging"\n')
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    edges = [(e.source, e.target) for e in inv.edges]
    assert ("iam:policy-reader", "object-bucket:acme-training-data") in edges
    bucket = inv.entities()["object-bucket:acme-training-data"]
    assert bucket.environments == ["staging"]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "locals {}\n"])
def test_empty_files_give_nothing(text: str) -> None:
    frag = _scan(text)
    assert frag.resources == [] and frag.warnings == []


def test_interpolated_names_keep_their_literal_stem() -> None:
    frag = _scan(
        'resource "aws_s3_bucket" "td" {\n  bucket = "acme-training-data${local.suffix}"\n}\n'
        'resource "aws_db_instance" "orders" {\n  identifier = "${local.prefix}-orders"\n  engine = "postgres"\n}\n'
        'resource "aws_sqs_queue" "q" {\n  name = "${var.name}"\n}\n'
    )
    res = _res(frag)
    # No literal part at all: the address names it (never the bare label `q`).
    assert sorted(res) == ["object-bucket:acme-training-data", "postgres:orders", "queue:terraform-aws_sqs_queue.q"]
    assert res["queue:terraform-aws_sqs_queue.q"].name == "aws_sqs_queue.q"
    assert res["queue:terraform-aws_sqs_queue.q"].attributes["name_template"] == "${var.name}"


def test_env_dirs_of_tfvars_apply_to_the_parent_module(tmp_path: Path) -> None:
    tf = tmp_path / "terraform"
    for env in ("prod", "staging"):
        (tf / "envs" / env).mkdir(parents=True)
        (tf / "envs" / env / "terraform.tfvars").write_text(f'environment = "{env}"\n')
    (tf / "s3.tf").write_text(
        'resource "aws_s3_bucket" "a" {\n  bucket = "shared"\n}\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = "tagged"\n  tags = {\n    env = "prod"\n  }\n}\n'
    )
    inv, _ = scan_paths([tmp_path], use_cache=False, jobs=1)
    ents = inv.entities()
    assert ents["object-bucket:shared"].environments == ["prod", "staging"]
    assert ents["object-bucket:tagged"].environments == ["prod"]


def test_role_and_policy_with_one_name_stay_apart_and_trust_is_not_a_grant() -> None:
    frag = _scan(
        'data "aws_iam_policy_document" "trust" {\n  statement {\n    actions = ["sts:AssumeRoleWithWebIdentity"]\n  }\n}\n'
        'data "aws_iam_policy_document" "perms" {\n  statement {\n    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n'
        'resource "aws_iam_role" "r" {\n  name = "exporter"\n  assume_role_policy = data.aws_iam_policy_document.trust.json\n}\n'
        'resource "aws_iam_policy" "p" {\n  name = "exporter"\n  policy = data.aws_iam_policy_document.perms.json\n}\n'
    )
    res = _res(frag)
    assert sorted(res) == ["iam:policy-exporter", "iam:role-exporter"]
    assert "actions" not in res["iam:role-exporter"].attributes
    assert res["iam:policy-exporter"].attributes["actions"] == ["s3:GetObject"]
    assert res["iam:policy-exporter"].name == "exporter"


def test_interpolated_dns_record_is_named_by_its_pattern_not_its_first_label() -> None:
    frag = _scan('resource "aws_route53_record" "redis" {\n'
                 '  name    = "redis.${var.environment}.${var.private_zone_name}"\n'
                 '  type    = "CNAME"\n}\n'
                 'resource "aws_route53_record" "www" {\n  name = "www.acme.shop"\n  type = "A"\n}\n',
                 "terraform/dns.tf")
    res = _res(frag)
    # `dns:redis` would read as the Redis cache; the record keeps "record" in its id.
    assert "dns:redis" not in res
    assert res["dns:redis-record"].name == "redis.{environment}.{private_zone_name}"
    assert res["dns:www.acme.shop"].name == "www.acme.shop"  # a literal name is already unambiguous


def _block_pattern(keyword: str, *labels: str) -> re.Pattern[str]:
    # The pattern _Lines.block compiled for every block before it matched lines itself.
    parts = r"\s+".join([re.escape(keyword)] + [rf'"?{re.escape(label)}"?' for label in labels])
    return re.compile(rf"^\s*{parts}\s*\{{?")


@pytest.mark.parametrize("labels", [(), ("aws_s3_bucket",), ("aws_s3_bucket", "logs"), ("a", "b.c"), ("x-y",)])
def test_block_lines_are_those_the_block_pattern_matches(labels: tuple[str, ...]) -> None:
    # Quotes, blank runs of every kind, labels that only begin the line's label (a prefix
    # matches, as with the pattern), missing blanks and stray quotes.
    words = ["resource", "module", *labels, *(lb + "_more" for lb in labels), "{", '"', "=", "x"]
    blanks = ["", " ", "  ", "\t", "\u00a0", '"', '" ', ' "']
    rng = random.Random(7)
    for _ in range(3000):
        line = "".join(rng.choice(blanks) + rng.choice(words) for _ in range(rng.randint(0, 5)))
        for keyword in ("resource", "module"):
            expected = bool(_block_pattern(keyword, *labels).search(line))
            assert _opens_block(line, keyword, labels) is expected, (line, keyword, labels)


def test_block_finds_the_first_matching_line_and_odd_labels_keep_the_pattern() -> None:
    lines = _Lines('resource "aws_s3_bucket" "logs_archive" {\n  resource  aws_s3_bucket  "logs" {\n'
                   'resource "x" " spaced" {\n')
    assert lines.block("resource", "aws_s3_bucket", "logs") == 1  # a prefix, as the pattern had it
    assert lines.block("resource", "x", " spaced") == 3
    assert lines.block("resource", "nothing", "here") == 1  # not found: the first line
