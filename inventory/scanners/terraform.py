"""Terraform (``*.tf``, ``*.tf.json``, ``*.tfvars``): managed datastores, buckets, IAM, modules.

Each ``resource`` block whose type the kinds table knows becomes a :class:`Resource`
(``aws_s3_bucket`` → ``object-bucket``), named after its literal ``identifier`` / ``bucket`` /
``name`` attribute, else the block label. The scanner records what the risk model needs:
deletion protection (``deletion_protection``, ``lifecycle.prevent_destroy``,
``force_destroy``), environment / owner / data-class tags, IAM actions and resources with
wildcards flagged, and module sources. Literal secrets (``password = "..."``) are never
kept; their location goes to ``frag.secrets``.

Whole-tree step: Terraform modules are directories, so ``finalize`` gives resources the
environment their directory's ``*.tfvars`` / ``variable "environment"`` default names, and
turns references between resources (``aws_s3_bucket.training.arn`` in an IAM policy) into
edges once every file's resource addresses are known.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from inventory.environments import detect_environment, environment_of_path
from inventory.kinds import kind_for_terraform
from inventory.model import Edge, Evidence, Owner, Resource, entity_id
from inventory.scanners._common import data_classes, fact, keep
from inventory.scanners._hcl import loads_simple
from inventory.scanners.base import Fragment, ScanContext, Scanner, SourceFile
from inventory.secrets import is_secret_key

if TYPE_CHECKING:  # pragma: no cover
    from inventory.builder import InventoryBuilder

# python-hcl2's options (a keyword dict: hcl2 is imported only for files the fast reader in
# `_hcl.py` leaves to it, so most scans never load it or its grammar).
HCL2_OPTIONS = dict(with_comments=False, explicit_blocks=False, strip_string_quotes=True, preserve_heredocs=False)


def hcl2_loads(text: str) -> Any:
    """``text`` parsed by python-hcl2 with the options this scanner reads (raises its errors)."""
    import hcl2
    from hcl2.utils import SerializationOptions

    return hcl2.loads(text, serialization_options=SerializationOptions(**HCL2_OPTIONS))


def _parse_problem(exc: Exception) -> tuple[str, int] | None:
    """(warning, line) for a file python-hcl2 or the JSON parser rejected; None for anything else."""
    lark_errors = sys.modules.get("lark.exceptions")  # loaded only if hcl2 ran
    if lark_errors is not None and isinstance(exc, lark_errors.UnexpectedInput):
        # The token's text is left out on purpose: it may be half of a secret.
        token = getattr(getattr(exc, "token", None), "type", None)
        what = f"unexpected {token}" if token else "unexpected input"
        line, col = getattr(exc, "line", 1) or 1, getattr(exc, "column", 0) or 0
        return f"invalid HCL: {what} at line {line}, column {col}", line
    if isinstance(exc, ValueError) or (lark_errors is not None and isinstance(exc, lark_errors.LarkError)):
        line = getattr(exc, "lineno", None) or getattr(exc, "line", None) or 1
        text = str(exc).strip()
        return f"invalid Terraform file: {text.splitlines()[0] if text else type(exc).__name__}", line
    return None


def parse_hcl(text: str) -> Any:
    """``text`` as python-hcl2 reads it: the fast reader for the plain subset, hcl2 for the rest."""
    data = loads_simple(text)
    return data if data is not None else hcl2_loads(text)
# Attributes that name the real thing, in order of preference.
_NAME_ATTRS = ("identifier", "bucket", "cluster_identifier", "replication_group_id", "cluster_id",
               "cluster_name", "domain_name", "topic_name", "dataset_id", "account_id", "name")
# Literal attributes worth keeping (what the risk model or a reviewer looks at).
_KEEP_ATTRS = ("engine", "engine_version", "instance_class", "node_type", "database_version", "tier",
               "multi_az", "publicly_accessible", "storage_encrypted", "backup_retention_period",
               "skip_final_snapshot", "force_destroy", "kafka_version", "number_of_broker_nodes",
               "partitions", "replication_factor", "acl", "location", "region")
_STATEFUL_KINDS = {"postgres", "mysql", "redis", "memcached", "clickhouse", "search", "document-db",
                   "object-bucket", "warehouse-dataset", "queue", "kafka-cluster", "kafka-topic", "volume",
                   "secret", "kms-key"}
_IAM_TYPES_RE = re.compile(r"^(aws_iam_|google_.*iam_(member|binding|policy)|google_service_account|azurerm_role_)")
_ENV_TAG_KEYS = {"env", "environment", "stage", "tier-env"}
_OWNER_TAG_KEYS = {"owner", "owners", "team", "owning-team", "owner-team"}
_DATA_TAG_KEYS = {"data-class", "data_class", "dataclass", "data-classification", "data_classification",
                  "classification", "sensitivity"}
# `${aws_s3_bucket.training.arn}` → ("aws_s3_bucket", "training"); skips var./local./module./data.
_REF_RE = re.compile(r"(?<![\w.\-])([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
_NOT_TYPES = {"var", "local", "module", "data", "each", "count", "path", "self", "terraform"}
_IAM_ACTION_RE = re.compile(r"""["']?(?:Action|NotAction|actions|not_actions)["']?\s*[:=]\s*(\[[^\]]*\]|"[^"]*")""")
_IAM_RESOURCE_RE = re.compile(r"""["']?(?:Resource|resources)["']?\s*[:=]\s*(\[[^\]]*\]|"[^"]*")""")
_QUOTED_RE = re.compile(r'"([^"]*)"')
_INTERP_RE = re.compile(r"\$\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


def _blocks(value: Any) -> list[dict]:
    """hcl2 gives repeated blocks as a list of dicts; ``.tf.json`` may give one dict."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _literal(value: Any) -> str | None:
    """A string attribute with no interpolation, else None."""
    if isinstance(value, str) and "${" not in value:
        return value
    return None


def _name_from(body: dict) -> str | None:
    """The real name from the first naming attribute: a literal, or the literal part of an
    interpolated one (``acme-training-data${local.suffix}`` → ``acme-training-data``)."""
    for attr in _NAME_ATTRS:
        value = body.get(attr)
        if not isinstance(value, str):
            continue
        if "${" not in value:
            return value
        stripped = _INTERP_RE.sub("", value).strip("-_. ")
        # Only a real stem counts: "${var.name}" or "db-${x}" leave too little to name it.
        if len(stripped) >= 3 and not _INTERP_RE.search(stripped):
            return stripped
    return None


def _dns_pattern(body: dict) -> str | None:
    """An interpolated DNS record name with each interpolation shown as ``<last word>``:
    ``redis.${var.environment}.${var.private_zone_name}`` → ``redis.{environment}.{private_zone_name}``
    (braces, not angle brackets: the name is printed in markdown, where ``<x>`` is an HTML tag)."""
    value = body.get("name")
    if not isinstance(value, str) or "${" not in value:
        return None

    def slot(m: re.Match[str]) -> str:
        words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(0))
        return "{" + (words[-1] if words else "var") + "}"

    return _INTERP_RE.sub(slot, value)


def _iam_object(rtype: str) -> str:
    """``aws_iam_role_policy_attachment`` → ``role-policy-attachment``; ``google_project_iam_member`` → ``project-iam-member``."""
    short = rtype.split("_", 1)[1] if "_" in rtype else rtype
    short = short[len("iam_"):] if short.startswith("iam_") else short
    return short.replace("_", "-")


def _norm_key(key: str) -> str:
    return key.strip().strip('"').lower().replace("_", "-") if isinstance(key, str) else ""


def _strings(value: Any, limit: int = 5000) -> list[str]:
    """Every string inside ``value`` (iterative, bounded)."""
    out: list[str] = []
    stack = [value]
    while stack and len(out) < limit:
        cur = stack.pop()
        if isinstance(cur, str):
            out.append(cur)
        elif isinstance(cur, dict):
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return out


def _secret_attrs(value: Any, prefix: str = "") -> list[str]:
    """Dotted names of secret-named attributes holding a literal (non-empty, non-reference)."""
    out: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                key = str(k).strip('"')
                sub = f"{path}.{key}" if path else key
                lit = _literal(v)
                if is_secret_key(key) and lit:
                    out.append(sub)
                else:
                    stack.append((sub, v))
        elif isinstance(cur, list):
            stack.extend((path, v) for v in cur)
    return sorted(out)


class _Lines:
    """Finds the line of a block or attribute by text search (hcl2 output carries no lines)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, pattern: re.Pattern[str], start: int = 1, end: int | None = None) -> int | None:
        stop = min(len(self.lines), end) if end else len(self.lines)
        for i in range(max(start, 1) - 1, stop):
            if pattern.search(self.lines[i]):
                return i + 1
        return None

    def block(self, keyword: str, *labels: str) -> int:
        if all(label and not label[0].isspace() and label[0] != '"' for label in labels):
            # Each block names its own labels, so its pattern below is compiled anew for every
            # block (the compile cost 50 times the search): for such labels the pattern takes
            # exactly the lines _opens_block does.
            found = next((i + 1 for i, line in enumerate(self.lines) if _opens_block(line, keyword, labels)), None)
        else:
            parts = r"\s+".join([re.escape(keyword)] + [rf'"?{re.escape(label)}"?' for label in labels])
            found = self.find(re.compile(rf"^\s*{parts}\s*\{{?"))
        if found is None and labels:
            # .tf.json or unusual formatting: the last label as a JSON key.
            found = self.find(re.compile(rf'"{re.escape(labels[-1])}"\s*:'))
        return found or 1

    def attr(self, name: str, start: int) -> int:
        found = self.find(re.compile(rf'^\s*"?{re.escape(name)}"?\s*[=:]'), start, start + 400)
        return found or start


def _opens_block(line: str, keyword: str, labels: tuple[str, ...]) -> bool:
    """Whether ``line`` matches ``^\\s*KEYWORD(\\s+"?LABEL"?)*`` (the last label may go on: a prefix),
    for labels that are not empty and start with neither white space nor a quote, so that no
    other split of the line could match (``\\s`` and ``str.isspace`` are the same class)."""
    rest = line.lstrip()
    if not rest.startswith(keyword):
        return False
    rest = rest[len(keyword):]
    for label in labels:
        spaced = rest.lstrip()
        if len(spaced) == len(rest):
            return False
        if spaced.startswith('"'):
            spaced = spaced[1:]
        if not spaced.startswith(label):
            return False
        rest = spaced[len(label):]
        if rest.startswith('"'):
            rest = rest[1:]
    return True


def _iam_lists(body: dict, text_blobs: list[str]) -> tuple[list[str], list[str]]:
    """IAM actions and resources from policy documents, JSON policies and ``jsonencode``."""
    actions: set[str] = set()
    resources: set[str] = set()
    stack: list[Any] = [body]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                key = str(k).strip('"').lower()
                if key in ("actions", "action", "not_actions", "notaction", "permissions"):
                    target = actions
                elif key in ("resources", "resource"):
                    target = resources
                else:
                    stack.append(v)
                    continue
                for s in _strings(v):
                    target.add(s)
        elif isinstance(cur, list):
            stack.extend(cur)
        elif isinstance(cur, str) and cur.lstrip().startswith("{"):
            try:
                stack.append(json.loads(cur))
            except ValueError:
                pass
    for blob in text_blobs:
        for rx, target in ((_IAM_ACTION_RE, actions), (_IAM_RESOURCE_RE, resources)):
            for m in rx.finditer(blob):
                target.update(_QUOTED_RE.findall(m.group(1)))
    return sorted(a for a in actions if a), sorted(r for r in resources if r)


def _refs(body: Any) -> list[tuple[str, str]]:
    """Resource addresses referenced inside ``body``'s interpolations."""
    found: set[tuple[str, str]] = set()
    for s in _strings(body):
        if "${" not in s:
            continue
        for m in _REF_RE.finditer(s):
            rtype, rname = m.group(1), m.group(2)
            if rtype not in _NOT_TYPES and not s[: m.start()].endswith("data."):
                found.add((rtype, rname))
    return sorted(found)


def _refine_kind(rtype: str, kind: str, body: dict) -> str:
    """Engine attributes say whether an RDS/Cloud SQL instance is MySQL or Postgres."""
    engine = (_literal(body.get("engine")) or _literal(body.get("database_version")) or "").lower()
    if kind in ("postgres", "mysql") and engine:
        if "mysql" in engine or "maria" in engine:
            return "mysql"
        if "postgres" in engine:
            return "postgres"
        if any(e in engine for e in ("sqlserver", "oracle", "db2")):
            return "other"
    return kind


class TerraformScanner(Scanner):
    """Terraform resources, modules, IAM and variables."""

    name = "terraform"
    version = 7
    suffixes = (".tf", ".tfvars", ".tf.json", ".tfvars.json")

    def matches(self, path: PurePosixPath, head: str) -> bool:
        n = path.name
        return n.endswith((".tf", ".tfvars", ".tf.json", ".tfvars.json"))

    def scan(self, src: SourceFile, ctx: ScanContext) -> Fragment:
        frag = self.fragment(src)
        name = src.pure.name
        try:
            if name.endswith(".json"):
                data = json.loads(src.text)
            else:
                data = parse_hcl(src.text)
        except Exception as exc:
            problem = _parse_problem(exc)
            if problem is None:
                raise
            frag.warn(problem[0], line=problem[1])
            return frag
        if not isinstance(data, dict):
            frag.warn("Terraform file is not an object at the top level")
            return frag
        lines = _Lines(src.text)
        patterns = ctx.config.environments
        if name.endswith((".tfvars", ".tfvars.json")):
            self._scan_tfvars(src, frag, data, lines, patterns)
            return frag
        file_env = self._variables(src, frag, data, lines, patterns)
        # A per-environment root (`envs/prod/`) names the environment; a word inside a folder
        # name does not. Module calls from such roots are followed by the resolve stage.
        hit = environment_of_path(src.path, patterns)
        env = hit[0] if hit else file_env
        addresses: dict[str, str] = {}
        refs: list[list[Any]] = []
        iam_docs: dict[str, tuple[list[str], list[str]]] = {}
        tagged: list[str] = []  # resources whose own tags name their environment
        for block in _blocks(data.get("data")):
            for dtype, named in block.items():
                for dname, body in (named or {}).items() if isinstance(named, dict) else []:
                    if dtype == "aws_iam_policy_document" and isinstance(body, dict):
                        iam_docs[str(dname)] = _iam_lists(body, [])
        for block in _blocks(data.get("resource")):
            for rtype, named in block.items():
                if not isinstance(named, dict):
                    continue
                for rname, body in named.items():
                    if isinstance(body, list) and body and isinstance(body[0], dict):
                        body = body[0]  # .tf.json allows a list of bodies
                    if not isinstance(body, dict):
                        continue
                    self._resource(src, frag, str(rtype), str(rname), body, lines, env, addresses, refs, iam_docs, tagged)
        for block in _blocks(data.get("module")):
            for mname, body in block.items():
                if isinstance(body, dict):
                    self._module(src, frag, str(mname), body, lines, env)
        frag.extra = {"dir": str(src.pure.parent), "env": env, "addresses": addresses, "refs": refs,
                      "tagged": sorted(set(tagged)), "values": self._values(data),
                      "modules": [{"name": str(m), "id": entity_id("other", f"tf-module-{m}"),
                                   "source": str(b.get("source")), "line": lines.block("module", str(m)),
                                   "args": {str(k): v for k, v in b.items() if isinstance(v, str) and "${" not in v
                                            and k not in ("source", "version") and not is_secret_key(str(k))
                                            and len(v) <= 200}}
                                  for blk in _blocks(data.get("module")) for m, b in blk.items()
                                  if isinstance(b, dict) and isinstance(b.get("source"), str)
                                  and str(b["source"]).startswith(("./", "../"))]}
        return frag

    # -- pieces -----------------------------------------------------------------------
    @staticmethod
    def _values(data: dict) -> dict[str, dict[str, str]]:
        """Literal variable defaults and locals (names only of non-secret ones): what a name
        template can be rendered with."""
        out: dict[str, dict[str, str]] = {"var": {}, "local": {}}
        for block in _blocks(data.get("variable")):
            for vname, body in block.items():
                if isinstance(body, dict) and not is_secret_key(str(vname)):
                    lit = body.get("default")
                    if isinstance(lit, str) and len(lit) <= 200:
                        out["var"][str(vname)] = lit
        for block in _blocks(data.get("locals")):
            for k, v in block.items():
                if isinstance(v, str) and not is_secret_key(str(k)) and len(v) <= 200:
                    out["local"][str(k)] = v
        return out

    def _variables(self, src: SourceFile, frag: Fragment, data: dict, lines: _Lines, patterns) -> str | None:
        """The environment a ``variable "environment"`` default names; secret defaults recorded."""
        env = None
        for block in _blocks(data.get("variable")):
            for vname, body in block.items():
                if not isinstance(body, dict):
                    continue
                vline = lines.block("variable", str(vname))
                default = _literal(body.get("default"))
                if default and is_secret_key(str(vname)):
                    keep(frag, str(vname), default, src.evidence(lines.attr("default", vline)))
                if str(vname).lower() in ("environment", "env", "stage") and default:
                    env = env or detect_environment(default, patterns=patterns)
        for block in _blocks(data.get("locals")):
            for k, v in block.items():
                lit = _literal(v)
                if lit and is_secret_key(str(k)):
                    keep(frag, str(k), lit, src.evidence(lines.attr(str(k), 1)))
                if lit and str(k).lower() in ("environment", "env", "stage"):
                    env = env or detect_environment(lit, patterns=patterns)
        return env

    def _scan_tfvars(self, src: SourceFile, frag: Fragment, data: dict, lines: _Lines, patterns) -> None:
        """Variable values: secrets are recorded (never kept); ``environment`` names the env."""
        env = None
        for key, value in data.items():
            lit = _literal(value)
            line = lines.attr(str(key), 1)
            if lit and is_secret_key(str(key)):
                keep(frag, str(key), lit, src.evidence(line))
            elif lit and str(key).lower() in ("environment", "env", "stage", "workspace"):
                env = env or detect_environment(lit, patterns=patterns)
            for sub in _secret_attrs(value) if isinstance(value, (dict, list)) else []:
                keep(frag, sub, "x", src.evidence(line))
        env = env or detect_environment(src.pure.stem, patterns=patterns)
        hit = environment_of_path(src.path, patterns)
        values = {str(k): v for k, v in data.items() if isinstance(v, str) and not is_secret_key(str(k)) and len(v) <= 200}
        frag.extra = {"dir": str(src.pure.parent), "vars_env": env, "addresses": {}, "refs": [],
                      "tfvars": {"stem": src.pure.name.split(".", 1)[0], "env": hit[0] if hit else env,
                                 "env_dir": hit[1] if hit else None, "values": values}}

    def _resource(self, src: SourceFile, frag: Fragment, rtype: str, rname: str, body: dict, lines: _Lines,
                  env: str | None, addresses: dict[str, str], refs: list[list[Any]],
                  iam_docs: dict[str, tuple[list[str], list[str]]], tagged: list[str]) -> None:
        line = lines.block("resource", rtype, rname)
        ev = src.evidence(line)
        for attr in _secret_attrs(body):
            keep(frag, attr, "x", src.evidence(lines.attr(attr.rsplit(".", 1)[-1], line)))
        is_iam = bool(_IAM_TYPES_RE.match(rtype))
        found = kind_for_terraform(rtype)
        if found is None and not is_iam:
            return
        if is_iam:
            # `google_storage_bucket_iam_member` grants access to a bucket; it is not one.
            found = ("iam", found[1] if found and found[0] == "iam" else rtype.split("_", 1)[0] + "-iam")
        kind, subtype = found
        kind = _refine_kind(rtype, kind, body)
        address = f"{rtype}.{rname}"
        # A sub-resource (aws_s3_bucket_versioning → aws_s3_bucket.x) adds to its parent.
        parent = self._parent(rtype, body, addresses)
        if parent and not is_iam:
            self._annotate_parent(frag, parent, rtype, body, ev)
            addresses[address] = parent
            return
        literal_name = _name_from(body)
        template = next((body[a] for a in _NAME_ATTRS if isinstance(body.get(a), str) and "${" in body[a]), None)
        # Never the bare label (`this`): without a literal name, the address names it (the
        # resolve stage renders the template through variables and locals when it can).
        name = literal_name or address
        # A role and its policy often share a name; the IAM object type keeps them apart.
        id_name = f"{_iam_object(rtype)}-{name}" if kind == "iam" and literal_name else name
        if literal_name is None and str(src.pure.parent) not in ("", "."):
            id_name = f"{src.pure.parent}/{address}"  # `this` in two modules is two things
        pattern = _dns_pattern(body) if kind == "dns" else None
        if pattern:
            # `redis.${var.environment}.${var.zone}` is a record, not the redis cluster: name it
            # by its pattern and keep "record" in the id so `dns:redis` never reads as the cache.
            name, id_name = pattern, f"{name}-record"
        res = Resource(id=entity_id(kind, id_name), kind=kind, name=name, subtype=rtype, evidence=[ev])
        res.attributes["terraform_address"] = address
        res.attributes["provider_subtype"] = subtype
        if template is not None and (literal_name is None or literal_name != template):
            res.attributes["name_template"] = template
        if kind in _STATEFUL_KINDS:
            res.stateful = True
        for attr in _KEEP_ATTRS:
            v = body.get(attr)
            if isinstance(v, (bool, int)) or _literal(v):
                res.attributes[attr] = v if isinstance(v, (bool, int)) else keep(frag, attr, v, ev)
        self._protection(res, body, lines, line, src)
        self._tags(frag, res, body, lines, line, src)
        if res.environments:
            tagged.append(res.id)
        elif env:
            res.environments.append(env)
            res.facts.append(fact("environment", env, ev))
        if is_iam:
            # A trust policy says who may assume a role, not what the role may do.
            grants = {k: v for k, v in body.items() if k != "assume_role_policy"}
            blobs = [s for s in _strings(grants) if "Action" in s or "actions" in s]
            actions, resources = _iam_lists(grants, blobs)
            docs = {m for s in _strings(grants) for m in re.findall(r"data\.aws_iam_policy_document\.([\w-]+)", s)}
            for d in sorted(docs):
                a, r = iam_docs.get(d, ([], []))
                actions, resources = sorted(set(actions) | set(a)), sorted(set(resources) | set(r))
            resources = [r for r in resources if "${" not in r] + sorted({f"{t}.{n}" for t, n in _refs({"r": resources})})
            if actions:
                res.attributes["actions"] = actions
            if resources:
                res.attributes["resources"] = resources
            wild = [a for a in actions if "*" in a]
            if wild:
                res.attributes["wildcard_actions"] = True
                res.facts.append(fact("wildcard-actions", wild, ev))
            if "*" in resources:
                res.attributes["wildcard_resources"] = True
                res.facts.append(fact("wildcard-resources", True, ev))
            for key in ("role", "policy_arn", "member", "members", "principal_id", "user", "group"):
                lit = _literal(body.get(key))
                if lit:
                    res.attributes[key] = lit
        addresses[address] = res.id
        targets = set(_refs(body))
        for r in res.attributes.get("resources", []) if is_iam else []:
            if isinstance(r, str) and "." in r and "${" not in r and ":" not in r:
                targets.add(tuple(r.split(".", 1)))  # type: ignore[arg-type]
        for rtype2, rname2 in sorted(targets):
            if (rtype2, rname2) != (rtype, rname):
                refs.append([res.id, f"{rtype2}.{rname2}", ev.path, ev.line])
        frag.resources.append(res)

    def _parent(self, rtype: str, body: dict, addresses: dict[str, str]) -> str | None:
        for ptype, pname in _refs(body):
            if rtype != ptype and rtype.startswith(ptype + "_") and f"{ptype}.{pname}" in addresses:
                return addresses[f"{ptype}.{pname}"]
        return None

    def _annotate_parent(self, frag: Fragment, parent_id: str, rtype: str, body: dict, ev: Evidence) -> None:
        for res in frag.resources:
            if res.id != parent_id:
                continue
            res.evidence.append(ev)
            if rtype.endswith("_versioning"):
                status = _strings(body.get("versioning_configuration"))
                res.attributes["versioning"] = "Enabled" in status
            elif rtype.endswith("_public_access_block"):
                res.attributes["public_access_blocked"] = bool(body.get("block_public_acls"))
            else:
                res.attributes[rtype] = True

    def _protection(self, res: Resource, body: dict, lines: _Lines, line: int, src: SourceFile) -> None:
        """Deletion protection: explicit flags, ``prevent_destroy``, ``force_destroy``."""
        prevent = any(b.get("prevent_destroy") is True for b in _blocks(body.get("lifecycle")))
        dp = body.get("deletion_protection")
        if dp is None:
            dp = body.get("deletion_protection_enabled")
        fd = body.get("force_destroy")
        if prevent:
            res.deletion_protection = True
            res.facts.append(fact("prevent_destroy", True, src.evidence(lines.attr("prevent_destroy", line))))
        if isinstance(dp, bool):
            res.deletion_protection = res.deletion_protection or dp
            res.facts.append(fact("deletion_protection", dp, src.evidence(lines.attr("deletion_protection", line))))
        if isinstance(fd, bool):
            res.facts.append(fact("force_destroy", fd, src.evidence(lines.attr("force_destroy", line))))
            if fd:
                res.deletion_protection = bool(prevent or dp is True)
            elif res.deletion_protection is None:
                # force_destroy = false: a non-empty bucket cannot be destroyed by terraform.
                res.deletion_protection = True
        if res.deletion_protection is None and isinstance(dp, bool):
            res.deletion_protection = dp

    def _tags(self, frag: Fragment, res: Resource, body: dict, lines: _Lines, line: int, src: SourceFile) -> None:
        """``tags`` / ``labels`` → environment, owners, data classes (with facts)."""
        for attr in ("tags", "labels", "default_tags", "resource_labels"):
            tags = body.get(attr)
            for t in _blocks(tags):
                for k, v in t.items():
                    key = _norm_key(str(k))
                    val = _literal(v)
                    if not val:
                        continue
                    ev = src.evidence(lines.attr(str(k).strip('"'), line))
                    kept = keep(frag, str(k), val, ev)
                    res.labels[str(k).strip('"')] = kept
                    if key in _ENV_TAG_KEYS:
                        env = detect_environment(val)
                        if env and env not in res.environments:
                            res.environments.append(env)
                            res.facts.append(fact("environment", env, ev))
                    elif key in _OWNER_TAG_KEYS:
                        for owner in (o.strip() for o in val.split(",")):
                            if owner and owner not in res.owners:
                                res.owners.append(owner)
                                res.facts.append(fact("owner", owner, ev))
                                frag.owners.append(Owner(name=owner, evidence=[ev]))
                    elif key in _DATA_TAG_KEYS:
                        for dc in data_classes(*re.split(r"[,\s]+", val)) or data_classes(val):
                            if dc not in res.data_classes:
                                res.data_classes.append(dc)
                                res.facts.append(fact("data_class", dc, ev))
        for dc in data_classes(res.name):
            if dc not in res.data_classes:
                res.data_classes.append(dc)
                res.facts.append(fact("data_class", dc, res.evidence[0]))

    def _module(self, src: SourceFile, frag: Fragment, mname: str, body: dict, lines: _Lines, env: str | None) -> None:
        line = lines.block("module", mname)
        ev = src.evidence(line)
        for attr in _secret_attrs(body):
            keep(frag, attr, "x", src.evidence(lines.attr(attr.rsplit(".", 1)[-1], line)))
        # Named by its address (`module.env`), never the bare label.
        res = Resource(id=entity_id("other", f"tf-module-{mname}"), kind="other", name=f"module.{mname}",
                       subtype="terraform-module", evidence=[ev])
        res.attributes["terraform_address"] = f"module.{mname}"
        source = _literal(body.get("source"))
        if source:
            res.attributes["source"] = keep(frag, "source", source, ev)
        version = _literal(body.get("version"))
        if version:
            res.attributes["version"] = version
        if env:
            res.environments.append(env)
            res.facts.append(fact("environment", env, ev))
        frag.resources.append(res)

    # -- whole tree -------------------------------------------------------------------
    def finalize(self, fragments: list[Fragment], builder: "InventoryBuilder") -> None:
        """Module environments from tfvars; cross-file references → edges.

        A module is a directory. ``*.tfvars`` beside it name its environment; a directory of
        only tfvars (``envs/prod/terraform.tfvars`` used with ``-var-file``) names an
        environment of the nearest parent module, so a root module shared by
        ``envs/prod`` and ``envs/staging`` is in both.
        """
        module_dirs = {f.extra["dir"] for f in fragments if "addresses" in f.extra and "vars_env" not in f.extra}
        envs: dict[str, set[str]] = {}
        addresses: dict[str, dict[str, str]] = {}
        for f in fragments:
            d = f.extra.get("dir")
            if d is None:
                continue
            if f.extra.get("env"):
                envs.setdefault(d, set()).add(f.extra["env"])
            if f.extra.get("vars_env"):
                target = d
                if d not in module_dirs:
                    parents = [str(p) for p in PurePosixPath(d).parents]
                    target = next((p for p in parents if p in module_dirs), d)
                envs.setdefault(target, set()).add(f.extra["vars_env"])
            addresses.setdefault(d, {}).update(f.extra.get("addresses", {}))
        for f in sorted(fragments, key=lambda x: x.path):
            d = f.extra.get("dir")
            if d is None:
                continue
            tagged = set(f.extra.get("tagged", []))
            for env in sorted(envs.get(d, ())):
                for r in f.resources:
                    ent = builder.entity(r.id)
                    if ent is not None and r.id not in tagged and env not in ent.environments:
                        ent.environments.append(env)
                        builder.set_fact(ent, "environment", env, r.evidence[:1])
            for source_id, target_addr, path, line in f.extra.get("refs", []):
                target = addresses.get(d, {}).get(target_addr)
                if target and builder.entity(target) is not None and builder.entity(source_id) is not None:
                    builder.add_edge(Edge(source=source_id, target=target, kind="depends-on",
                                          via=f"terraform reference {target_addr}",
                                          evidence=[Evidence(path=path, line=line)]))


__all__ = ["TerraformScanner"]
