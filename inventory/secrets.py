"""Secret redaction: secret values never enter the inventory, a prompt, a cache or a document.

The inventory keeps *that* a secret exists and *where* (an :class:`~inventory.model.Evidence`
in ``Inventory.secrets``), never its value, a base64 of it, or a part of it.

The module is shaped like detect-secrets: one detector is one small object with a cheap
``keywords`` prefilter (lower-case literals, one of which must occur in the text before the
detector runs) and a ``spans`` method returning the ``(start, end)`` character spans to mask.
Token formats (AWS, GitHub, Slack, Stripe, JWT...) come from detect-secrets' own plugins,
called directly through ``analyze_string`` so that no global settings, filters or network
verification are involved. Key-name rules, connection strings, command-line flags, k8s Secret
data and PEM blocks are our own detectors. See docs/secrets.md.

Public entry points:

* :func:`is_secret_key` - does a key/variable name hold a secret?
* :func:`redact_value` - a key/value pair from config (env var, YAML value, tfvars).
* :func:`redact_text` / :func:`redact_lines` - free text (runbooks, commands, whole files).
* :func:`redact_k8s_secret_data` - the ``data``/``stringData`` of a Kubernetes Secret.
* :func:`scrub_data` / :func:`scrub_inventory` - the last line of defence over any JSON-like
  structure and over the whole built inventory.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
import re
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from types import CodeType
from typing import Any, Protocol

try:  # optional: built by the install where a C compiler is at hand (see _cbuild.c)
    from inventory._cbuild import has_keyword as _c_has_keyword
    from inventory._cbuild import keyword_set as _c_keyword_set
except ImportError:  # not built, or an older build without them
    _c_has_keyword = _c_keyword_set = None

# pydantic and the model are imported where models are walked, not here: the scrub's judging
# helper (inventory.judgeserve) imports this module alone, on the cold scan's spare core.
if typing.TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

    from inventory.model import Inventory

REDACTED = "<redacted>"

Span = tuple[int, int]

# --------------------------------------------------------------------------------------
# Key names
# --------------------------------------------------------------------------------------

# Words that, as a whole token of a key name, mean "the value is a secret".
_STRONG_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "passphrase", "passcode", "pswd",
        "secret", "token", "apikey", "credential", "credentials", "creds",
        "authorization", "bearer", "privatekey", "secretkey", "accesskey",
        "pgpassword", "pgpass", "salt", "pepper", "cookiesecret",
    }
)
# "<word>_key" pairs that name a secret key (``api_key``, ``signing_key``...). A bare ``key``
# is not enough: ``key: password`` in a secretKeyRef, routing/partition/sort keys...
_KEY_QUALIFIERS = frozenset(
    {
        "api", "access", "secret", "private", "signing", "sign", "encryption", "encrypt",
        "decryption", "master", "hmac", "license", "licence", "ssh", "session", "jwt",
        "webhook", "app", "client", "shared", "service", "account", "auth", "admin", "root",
        "storage", "subscription", "consumer", "deploy", "crypt", "cipher", "aes", "fernet",
        "django", "rails", "cookie", "csrf", "x",
    }
)
# A key whose *last* token is one of these names a pointer to a secret, not the secret:
# ``db_password_file``, ``secretName``, ``secretKeyRef``, ``token_url``, ``password_length``.
_NEGATIVE_LAST = frozenset(
    {
        "name", "names", "ref", "refs", "reference", "file", "files", "path", "paths", "dir",
        "directory", "url", "uri", "urls", "endpoint", "host", "hostname", "port", "arn",
        "length", "len", "min", "max", "ttl", "timeout", "expiry", "expires", "expiration",
        "lifetime", "duration", "type", "types", "kind", "mode", "method", "methods",
        "mechanism", "mechanisms", "enabled", "enable", "disabled", "required", "policy",
        "policies", "rotation", "header", "version", "provider", "providers", "store",
        "manager", "namespace", "mount", "location", "format", "algorithm", "algo", "field",
        "property", "env", "var", "variable", "source", "template", "count", "size",
        "secrets", "keys", "tokens", "passwords", "class", "id", "ids", "selector", "label",
        "labels", "annotation", "annotations", "schema", "scope", "scopes", "issuer",
        "audience", "prefix", "suffix", "strategy", "role", "roles", "user", "username",
        "backend", "engine", "volume", "volumes", "generator", "rotate", "config",
        "configuration", "configs", "option", "options", "settings", "spec", "status",
        "ref_name", "provided", "exists", "present", "interval", "period", "seconds", "secs",
        "sec", "minutes", "mins", "hours", "days", "ms", "lifespan", "age", "only", "limit",
    }
)
# k8s/Helm style ``<something>Secret`` keys that hold the *name* of a Secret object.
_SECRET_NAME_HOLDERS = frozenset(
    {
        "existing", "tls", "credentials", "credential", "ca", "cert", "certificate",
        "image", "pull", "docker", "registry", "git", "kube", "k8s", "vault", "external",
        "sealed", "use", "create", "password", "auth", "admin",
    }
)
# Whole key names that are known pointers (matched on the normalised, underscore form).
_NEGATIVE_EXACT = frozenset(
    {
        "secret_key_ref", "secret_ref", "secret_name", "existing_secret", "secret_provider_class",
        "value_from", "env_from", "secret_store_ref", "image_pull_secrets", "pull_secret",
        "access_key_id_ref", "authentication", "authenticated", "authenticator", "authorize",
        "authorized", "pass_through", "passthrough", "token_review", "service_account_token",
        "automount_service_account_token", "bypass", "compass", "bypass_auth",
    }
)
# Keys whose value is sensitive only when it also *looks* random (checked with entropy):
# ``STRIPE_KEY``, ``MAPS_KEY``, ``SIGNATURE``, ``SEED``.
# A bare ``auth`` is loose too: it is a secret in docker's config.json or .npmrc (base64 of
# user:pass) but a scheme name in OpenAPI (``auth: bearerAuth``) or Kafka listeners.
_LOOSE_WORDS = frozenset({"key", "signature", "sig", "seed", "nonce", "hmac", "cookie", "session", "auth"})
# ``basic_auth: user:pass``: an ``auth`` with one of these in front is a credential.
_AUTH_QUALIFIERS = frozenset({"basic", "http", "proxy", "npm", "registry", "smtp", "redis", "db"})

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT_RE = re.compile(r"[^A-Za-z0-9]+")


@lru_cache(maxsize=8192)
def _key_tokens(name: str) -> tuple[str, ...]:
    """``dbPassword_FILE`` -> ``("db", "password", "file")``; cached: keys repeat a lot."""
    spaced = _CAMEL_RE.sub("_", name.strip())
    return tuple(t for t in _SPLIT_RE.split(spaced.lower()) if t)


def _glued_secret(token: str) -> bool:
    """A token with a secret word glued on: ``dbpassword``, ``apitoken``, ``mysqlpwd``."""
    return token.endswith(("password", "passwd", "secret", "token", "apikey", "pwd")) and len(token) > 3


@lru_cache(maxsize=8192)
def is_secret_key(name: str) -> bool:
    """Whether a key/variable name says its value is a secret.

    ``DB_PASSWORD``, ``apiKey``, ``client_secret``, ``GITHUB_TOKEN``, ``MYSQL_PWD`` and
    ``Authorization`` are; pointers to secrets are not, so their useful names stay visible:
    ``password_file``/``*_FILE``, ``secretName``, ``secretKeyRef``, ``existingSecret``,
    ``token_url``, ``password_length``, ``authentication``.
    """
    tokens = _key_tokens(name or "")
    if not tokens:
        return False
    if "_".join(tokens) in _NEGATIVE_EXACT:
        return False
    last = tokens[-1]
    # ``access_key_id`` is the one "...id" we treat as a secret (AWS pairs it with the key).
    if tokens[-3:] == ("access", "key", "id"):
        return True
    if last in _NEGATIVE_LAST:
        return False
    if last == "secret" and len(tokens) > 1 and tokens[-2] in _SECRET_NAME_HOLDERS:
        return False
    for i, tok in enumerate(tokens):
        if tok in _STRONG_WORDS or _glued_secret(tok):
            return True
        if tok == "key" and i > 0 and tokens[i - 1] in _KEY_QUALIFIERS:
            return True
        if tok == "auth" and i > 0 and tokens[i - 1] in _AUTH_QUALIFIERS:
            return True
        if tok in ("privatekey", "apikey", "secretkey", "accesskey"):
            return True
    return False


_LOOSE_NEGATIVE_LAST = _NEGATIVE_LAST - {"key"}


@lru_cache(maxsize=8192)
def _is_loose_secret_key(name: str) -> bool:
    """Keys whose value is a secret when it also looks random (``STRIPE_KEY``, ``SIGNATURE``); cached
    as :func:`is_secret_key` is: asked of every scalar's key in every values file and manifest."""
    tokens = _key_tokens(name or "")
    if not tokens or tokens[-1] in _LOOSE_NEGATIVE_LAST:
        return False
    return any(t in _LOOSE_WORDS for t in tokens)


# --------------------------------------------------------------------------------------
# Values: references, default passwords, entropy
# --------------------------------------------------------------------------------------

# Things that *point to* a secret instead of holding it. Removed from a value; if nothing
# alphanumeric is left, the value is a reference and is kept (it names a variable, not a secret).
_REFERENCE_RE = re.compile(
    r"""
    \$\{\{[^}]*\}\}                 # GitHub Actions ${{ secrets.X }}
    | \{\{[^}]*\}\}                 # Helm / Jinja {{ .Values.x }}
    | \$\{[^}\s]*\}                 # ${VAR}, ${var.x}
    | \$\([A-Za-z_][\w.-]*\)        # $(VAR) in k8s env, Makefiles
    | \$[A-Za-z_][A-Za-z0-9_]*      # $VAR
    | %\([\w.-]+\)s                 # %(name)s
    | %[A-Za-z_][\w.-]*%            # %VAR% (Windows)
    | <redacted>
    """,
    re.VERBOSE,
)
# Whole-value references: Terraform expressions, secret-manager URIs, ARNs.
_WHOLE_REFERENCE_RE = re.compile(
    r"""^(?:
      (?:var|local|module|data|each|self)\.[\w.\[\]"*-]+
    | [a-z][a-z0-9]*_[a-z0-9_]+\.[\w-]+\.[\w.\[\]"*-]+        # random_password.db.result
    | (?:vault|ref\+\w+|awssm|ssm|gcpsm|azkv|op|secretsmanager|sm)://\S+
    | vault:[\w/.#-]+
    | arn:aws[\w-]*:(?:secretsmanager|ssm|kms):\S+
    | (?:/|\.{1,2}/|~/)[\w.@/-]+                             # a file path, e.g. a mounted key file
    | secretKeyRef | valueFrom | \*+ | (?i:true|false|yes|no|on|off|null|none|nil|~)
    | read | write | read-all | write-all                  # GitHub Actions ``id-token: write``
    )$""",
    re.VERBOSE,
)


_COMMAND_SUBST_RE = re.compile(r"\$\([^()]*\)|`[^`]*`")
_AUTH_SCHEME_RE = re.compile(r"^(?i:bearer|basic|token|digest|bot)\s+")


def is_reference(value: str) -> bool:
    """Whether ``value`` only *refers* to a secret (``${VAR}``, ``{{ .Values.pw }}``, ``var.x``).

    Empty values, booleans, ``null``, ``*****`` and already-redacted values count as
    references too: there is nothing to hide. Default-looking values such as ``changeme`` do
    not: such a value is sometimes the real password, so it is masked like one.
    """
    v = value.strip().strip("\"'").strip()
    if not v:
        return True
    # ``Bearer $TOKEN``: an auth scheme in front of a reference is still a reference.
    v = _AUTH_SCHEME_RE.sub("", v)
    if _WHOLE_REFERENCE_RE.match(v):
        return True
    rest = _REFERENCE_RE.sub("", v)
    # ``$(vault read -field=pw ...)``: the secret is produced at run time, not written here,
    # unless the command itself carries a literal token.
    rest = _COMMAND_SUBST_RE.sub(_drop_harmless_substitution, rest)
    return not any(c.isalnum() for c in rest)


def _drop_harmless_substitution(m: re.Match[str]) -> str:
    """``$(...)``/backticks vanish unless a word inside looks like a literal token."""
    words = m.group(0).strip("$()`").split()
    return m.group(0) if any(_LOOSE_VALUE_RE.match(w) and _looks_random(w, 20) for w in words) else ""


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` (a random base64 string of 40 chars is about 5)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")


def _looks_random(token: str, min_len: int = 16, min_entropy: float = 3.5) -> bool:
    """A token that looks generated (mixed classes, high entropy), not a word or a path."""
    if len(token) < min_len:
        return False
    classes = sum((any(c.islower() for c in token), any(c.isupper() for c in token), any(c.isdigit() for c in token)))
    if _HEX_RE.match(token):
        return len(token) >= 32 and shannon_entropy(token) >= 3.0
    return classes >= 2 and shannon_entropy(token) >= min_entropy


_LOOSE_VALUE_RE = re.compile(r"^[A-Za-z0-9+/=_-]{20,}$")


def _loose_value_is_secret(value: str) -> bool:
    """Under a loosely secret-ish key (``STRIPE_KEY``), a value is a secret when it is one
    random-looking token; file names (``jwtRS256.key.pub``) and expressions are not."""
    v = value.strip().strip("\"'")
    return bool(_LOOSE_VALUE_RE.match(v)) and _looks_random(v, min_len=20, min_entropy=3.5)


def looks_like_base64_secret(value: str) -> bool:
    """Whether ``value`` is strict base64 of something (as in a k8s Secret's ``data``).

    Scanners use it to recognise encoded values outside ``kind: Secret`` (e.g. a ConfigMap
    that carries an encoded password under an innocent key).
    """
    v = value.strip()
    if len(v) < 8 or len(v) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", v):
        return False
    try:
        base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# --------------------------------------------------------------------------------------
# Detectors
# --------------------------------------------------------------------------------------


class Detector(Protocol):
    """One detector: a cheap ``keywords`` prefilter and the spans to mask in a text.

    ``keywords`` are lower-case literals; the detector runs only on texts whose lower-cased
    form contains one of them. All keywords are compiled into one trie regex, so a text that
    triggers no detector costs a single regex search.
    """

    name: str
    keywords: tuple[str, ...]

    def spans(self, text: str) -> Iterable[Span]:
        """Character spans of secret values in ``text`` (called only when a keyword occurs)."""
        ...


# A detector may also have ``prefilter``: a regex over the lower-cased text that matches
# whenever ``spans`` can find anything there (a necessary condition, stricter than its
# keywords). A detector whose keyword occurs runs only if it matches too: for keywords that
# common words contain (``-us`` in ``kafka-user``, ``sk-`` in ``risk-api``), most texts that
# wake it are then judged without running it. The combined prefilter keeps the keywords
# (one trie-shaped regex is several times faster over a whole file than one with patterns).


@dataclass
class RegexDetector:
    """Masks the capture groups of every match of ``pattern`` (groups that did not take part
    in a match are skipped, so alternatives can each capture their own value).

    With ``keep_references`` a value that only refers to a secret (``${DB_PASSWORD}``) is
    left alone.
    """

    name: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]
    keep_references: bool = True
    prefilter: str | None = None  # see Detector

    def spans(self, text: str) -> Iterator[Span]:
        """Spans of the captured groups of every match."""
        for m in self.pattern.finditer(text):
            for g in range(1, (m.re.groups or 0) + 1):
                start, end = m.span(g)
                if start < 0 or start == end:
                    continue
                value = text[start:end]
                if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
                    start, end, value = start + 1, end - 1, value[1:-1]
                if self.keep_references and is_reference(value):
                    continue
                yield start, end


_TOKEN_CHARS_LEFT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKEN_CHARS_RIGHT = _TOKEN_CHARS_LEFT | frozenset("+/=.~")


def _widen(text: str, start: int, end: int) -> Span:
    """Grow a token match to the whole token, so no prefix or suffix of it survives."""
    while start > 0 and text[start - 1] in _TOKEN_CHARS_LEFT:
        start -= 1
    while end < len(text) and text[end] in _TOKEN_CHARS_RIGHT:
        end += 1
    # A sentence's full stop is not part of the token.
    while end > start and text[end - 1] == ".":
        end -= 1
    return start, end


@dataclass
class DetectSecretsDetector:
    """Wraps a detect-secrets regex plugin (token formats: AWS, GitHub, Slack, JWT...).

    Calls the plugin's ``analyze_string`` directly: ``scan_line``/``analyze_line`` would touch
    detect-secrets' global settings and may try network verification.
    """

    name: str
    keywords: tuple[str, ...]
    plugin_path: str  # "module:Class" under detect_secrets.plugins
    prefilter: str | None = None  # see Detector
    _plugin: Any = field(default=None, init=False, repr=False)

    def _get(self) -> Any:
        if self._plugin is None:
            import importlib

            module_name, cls_name = self.plugin_path.split(":")
            module = importlib.import_module(f"detect_secrets.plugins.{module_name}")
            self._plugin = getattr(module, cls_name)()
        return self._plugin

    def spans(self, text: str) -> Iterator[Span]:
        """Every occurrence of every value the plugin reports, widened to the whole token."""
        for value in set(self._get().analyze_string(text)):
            if not value or value == REDACTED:
                continue
            pos = text.find(value)
            while pos >= 0:
                yield _widen(text, pos, pos + len(value))
                pos = text.find(value, pos + len(value))


# Words that make a key worth a look (lower-case; the key itself is judged by is_secret_key).
_SECRETISH_WORDS: tuple[str, ...] = (
    "pass", "pwd", "secret", "token", "key", "auth", "cred", "salt", "pepper", "sig", "seed",
    "nonce", "cookie", "session",
)
_SECRETISH_RE = re.compile("|".join(_SECRETISH_WORDS))  # searched in the lower-cased text
_SECRETISH_RE_I = re.compile("|".join(_SECRETISH_WORDS), re.IGNORECASE)
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
# After the key: its closing quote if any, then ``=``, ``:=``, ``=>`` or a YAML/JSON ``:``.
_OPERATOR_RE = re.compile(r"""(?P<q>["']?)[ \t]*(?P<op>:=|=>|=|:(?=\s|$|["']))[ \t]*""")
_BLOCK_INDICATOR_RE = re.compile(r"[|>][-+0-9]*\s*(?:#.*)?")
_COMMENT_RE = re.compile(r"\s+#")


@dataclass
class AssignmentDetector:
    """``KEY=value``, ``key: value``, ``"key": "value"``, ``key = "value"`` (HCL/tfvars), ``--key=value``.

    Masks the value when :func:`is_secret_key` says the key holds a secret, or when the key
    is loosely secret-ish (``STRIPE_KEY``, ``SIGNATURE``) and the value looks random. YAML
    block scalars (``password: |``) are masked down to the end of the block.
    """

    name: str = "assignment"
    keywords: tuple[str, ...] = _SECRETISH_WORDS

    def spans(self, text: str) -> Iterator[Span]:
        """Spans of values assigned to secret keys."""
        last_key_end = -1  # keyword hits inside a key already judged are skipped
        covered = -1  # ... and so are hits inside a value already masked (keeps it linear)
        n = len(text)
        # Driven by keyword hits (``password`` in ``DB_PASSWORD=``), not by every word: fast.
        low = text.lower()
        # Lower-casing can change the length of some Unicode text; then search case-blind.
        hits = _SECRETISH_RE.finditer(low) if len(low) == n else _SECRETISH_RE_I.finditer(text)
        for km in hits:
            if km.start() < last_key_end or km.start() < covered:
                continue
            ks, ke = km.start(), km.end()
            while ks > 0 and text[ks - 1] in _KEY_CHARS:
                ks -= 1
            while ke < n and text[ke] in _KEY_CHARS:
                ke += 1
            last_key_end = ke
            while ks < ke and not (text[ks].isalpha() or text[ks] == "_"):
                ks += 1  # ``--db-password``: the key starts at the first letter
            om = _OPERATOR_RE.match(text, ke)
            if om is None:
                continue
            key = text[ks:ke]
            strong = is_secret_key(key)
            if not strong and not _is_loose_secret_key(key):
                continue
            quoted = bool(om.group("q")) and ks > 0 and text[ks - 1] == om.group("q")
            span = self._value_span(text, ks, om.end(), om.group("op"), quoted)
            if span is None:
                continue
            value = text[span[0] : span[1]]
            if is_reference(value):
                continue
            if not strong and not _loose_value_is_secret(value):
                continue
            covered = span[1]
            yield span

    @staticmethod
    def _value_span(text: str, key_start: int, pos: int, op: str, quoted: bool) -> Span | None:
        if pos >= len(text):
            return None
        ch = text[pos]
        if ch in "\"'":
            end = _closing_quote(text, pos)
            return (pos + 1, end) if end > pos + 1 else None
        if ch in "\n\r":
            return None
        if op == ":":
            if not _starts_entry(text, key_start - 1 if quoted else key_start):
                return None  # ``Invalid token: enter your key`` is prose, not a YAML entry
            opener = text[key_start - 1] if key_start > 0 and not quoted else ""
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end < 0 else line_end
            # ``'X-Api-Key: abc' https://...``: the value ends at the quote that opened the pair.
            if opener and opener in "\"'":
                close = text.find(opener, pos, line_end)
                if close >= 0:
                    return pos, close
            if _BLOCK_INDICATOR_RE.fullmatch(text, pos, line_end):
                return _block_scalar_span(text, key_start, line_end)
            if text.startswith(("{", "[", "&", "*", "!"), pos):
                return None  # a mapping/anchor/alias/tag, not a scalar value
            comment = _COMMENT_RE.search(text, pos, line_end)
            end = comment.start() if comment else line_end
            while end > pos and text[end - 1] in " \t\r":
                end -= 1
            # JSON: ``"n": 3600,`` - the separator is not part of the value.
            if end > pos and text[end - 1] == ",":
                end -= 1
                while end > pos and text[end - 1] in " \t":
                    end -= 1
            return (pos, end) if end > pos else None
        # ``=``-style (shell, HCL, URLs, flags): the value is one shell-ish word.
        vm = _SHELL_WORD_RE.match(text, pos)
        return vm.span() if vm else None


def _starts_entry(text: str, i: int) -> bool:
    """Whether a ``key:`` at ``i`` starts a YAML/JSON entry: after indentation and list dashes,
    a flow mapping's ``{`` or ``,``, or a quote (``-H 'X-Api-Key: abc'``). Walks back only
    over blanks and dashes, so it costs nothing on long lines."""
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i == 0 or text[i - 1] in "\n\r{,\"'":
        return True
    if text[i - 1] != "-":
        return False
    while i > 0 and text[i - 1] in " \t-":
        i -= 1
    return i == 0 or text[i - 1] in "\n\r"

# One shell-ish word; ``${VAR}``/``$(VAR)``/``{{ x }}`` stay whole so references are recognised.
# Commas and brackets do not end it: a password may hold them, and masking too much is safe.
_SHELL_WORD_RE = re.compile(r"(?:\$\{\{[^}\n]*\}\}|\{\{[^}\n]*\}\}|\$\{[^}\s]*\}|\$\([^)\s]*\)|[^\s;&\"'`|<>])+")


@dataclass
class EnvPairDetector:
    """k8s/compose env entries written as a pair: ``- name: DB_PASSWORD`` then ``value: x``."""

    name: str = "env-pair"
    keywords: tuple[str, ...] = ("value:",)
    pattern: re.Pattern[str] = field(
        default_factory=lambda: re.compile(
            r"""\bname:[ \t]*["']?(?P<key>[A-Za-z_][\w.-]*)["']?[ \t]*\r?\n[ \t]*(?:-[ \t]*)?value:[ \t]*(?P<value>[^\n]*)"""
        )
    )

    def spans(self, text: str) -> Iterator[Span]:
        """The value of every pair whose name is a secret key."""
        for m in self.pattern.finditer(text):
            if not is_secret_key(m.group("key")):
                continue
            start, end = m.span("value")
            raw = text[start:end]
            value = re.sub(r"\s+#.*$", "", raw).rstrip()
            if value[:1] in "\"'" and len(value) >= 2 and value[-1] == value[0]:
                start, value = start + 1, value[1:-1]
            if value and not is_reference(value):
                yield start, start + len(value)


def _closing_quote(text: str, pos: int) -> int:
    """Index of the quote closing the one at ``pos`` (backslash escapes respected), or line end."""
    q = text[pos]
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == q or c == "\n":
            return i
        i += 1
    return len(text)


def _block_scalar_span(text: str, key_start: int, line_end: int) -> Span | None:
    """The body of a YAML block scalar that starts after ``line_end``."""
    line_start = text.rfind("\n", 0, key_start) + 1
    indent = len(text[line_start:key_start]) - len(text[line_start:key_start].lstrip(" -"))
    pos = line_end + 1
    end = line_end
    first = None
    while pos < len(text):
        nl = text.find("\n", pos)
        nl = len(text) if nl < 0 else nl
        line = text[pos:nl]
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        if line.strip():
            if first is None:
                first = pos + len(line) - len(line.lstrip(" "))
            end = nl
        pos = nl + 1
    return (first, end) if first is not None else None


@dataclass
class PemPrivateKeyDetector:
    """A PEM/OpenSSH/PGP private key block, BEGIN to END, over several lines if needed.

    Also matches blocks whose newlines are escaped (``\\n`` in JSON). Without an END line the
    rest of the text is masked: better too much than a key body.
    """

    name: str = "private-key"
    keywords: tuple[str, ...] = ("private key", "putty-user-key-file")
    pattern: re.Pattern[str] = field(
        default_factory=lambda: re.compile(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)"
            r"|PuTTY-User-Key-File-\d:.*?(?:Private-MAC:[^\n]*|\Z)",
            re.DOTALL,
        )
    )

    def spans(self, text: str) -> Iterator[Span]:
        """Whole key blocks."""
        for m in self.pattern.finditer(text):
            yield m.span()


_DOC_SEP_RE = re.compile(r"(?m)^---[^\n]*$")
_KIND_SECRET_RE = re.compile(r"(?m)^kind:[ \t]*[\"']?Secret[\"']?[ \t]*(?:#.*)?$")
_DATA_BLOCK_RE = re.compile(r"(?m)^([ \t]*)(?:data|stringData):[ \t]*(\S[^\n]*)?$")


@dataclass
class K8sSecretDataDetector:
    """Every value under ``data:``/``stringData:`` of a ``kind: Secret`` YAML document.

    In a Secret every value is secret material whatever its key (``username``, ``host``,
    ``config.json``), and base64 cannot be judged without decoding. The keys stay visible.
    """

    name: str = "k8s-secret-data"
    keywords: tuple[str, ...] = ("kind: secret", "kind: 'secret'", 'kind: "secret"')

    def spans(self, text: str) -> Iterator[Span]:
        """Values (and block-scalar bodies) inside the data blocks of Secret documents."""
        bounds = [0] + [m.end() for m in _DOC_SEP_RE.finditer(text)] + [len(text)]
        for doc_start, doc_end in zip(bounds, bounds[1:]):
            if not _KIND_SECRET_RE.search(text, doc_start, doc_end):
                continue
            for m in _DATA_BLOCK_RE.finditer(text, doc_start, doc_end):
                if m.group(2):  # ``data: {a: b}`` flow style: mask the whole mapping
                    if m.group(2).strip() not in ("{}", "null", "~"):
                        yield m.span(2)
                    continue
                yield from self._block_values(text, m.end() + 1, doc_end, len(m.group(1)))

    @staticmethod
    def _block_values(text: str, pos: int, end: int, indent: int) -> Iterator[Span]:
        while pos < end:
            nl = text.find("\n", pos, end)
            nl = end if nl < 0 else nl
            line = text[pos:nl]
            stripped = line.lstrip(" ")
            if stripped.strip():
                if len(line) - len(stripped) <= indent:
                    return
                colon = _ENTRY_COLON_RE.match(stripped)
                if colon:  # ``key: value``: the value only
                    vstart = pos + (len(line) - len(stripped)) + colon.end()
                    if vstart < nl and not _BLOCK_INDICATOR_RE.fullmatch(text[vstart:nl]):
                        yield vstart, nl
                else:  # a block scalar's body line
                    yield pos + len(line) - len(stripped), nl
            pos = nl + 1


_ENTRY_COLON_RE = re.compile(r"""(?:"[^"\n]*"|'[^'\n]*'|[^\s:"'][^:\n]*?):(?:[ \t]+|$)""")


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile ``pattern`` (a short alias keeps the detector table readable)."""
    return re.compile(pattern, flags)


# Our own rules, then detect-secrets' token plugins. Order does not matter: spans are merged.
DETECTORS: list[Detector] = [
    PemPrivateKeyDetector(),
    K8sSecretDataDetector(),
    # scheme://user:PASSWORD@host (postgres, mysql, redis, amqp, mongodb+srv, https...).
    RegexDetector(
        "url-password",
        ("://",),
        # Bounded repeats: a long line of ``x://a:b`` without ``@`` must not go quadratic.
        _rx(r"://[^\s:/@'\"]{0,256}:([^\s'\"]{1,512}?)@(?=[^\s@'\"]{0,2048}(?:[\s'\"]|$))"),
        # Twice the bounds: lower-casing can turn one character into two (never more).
        prefilter=r"://[^\s:/@'\"\0]{0,512}:[^\s'\"\0]{1,1024}?@",
    ),
    # Authorization headers and bare Bearer tokens: ``Authorization: Basic abc``, ``Bearer eyJ..``.
    RegexDetector(
        "authorization-header",
        ("authorization", "bearer"),
        _rx(
            r"(?i)(?:authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest|bot|apikey|negotiate)\s+)?"
            r"(?!(?:bearer|basic|token|digest|bot|apikey|negotiate)\b)"
            r"([A-Za-z0-9._~+/=:-]{6,}|\$\{\{[^}]*\}\}|\$\{?[A-Za-z_]\w*\}?)"
            # A bare ``Bearer X`` needs X to look like a token (a digit or punctuation), not prose.
            r"|\bbearer\s+((?=[A-Za-z._~+/=:-]*[0-9._~+/=-])[A-Za-z0-9._~+/=:-]{8,}))"
        ),
    ),
    AssignmentDetector(),
    EnvPairDetector(),
    # Command-line flags whose next word is a secret: ``--password x``, ``--token x``.
    RegexDetector(
        "secret-flag",
        ("pass", "pwd", "secret", "token", "key", "cred", "auth"),
        _rx(
            r"--(?<![\w-]--)(?i:(?:[\w-]*-)?(?:password|passwd|pass|pwd|secret|client-secret|token|api-?key|access-key|"
            r"secret-key|private-key|auth-token|credentials?|auth))\s+(?!-)(\"[^\"\n]*\"|'[^'\n]*'|[^\s;&|]+)"
        ),
    ),
    # mysql family: ``-pSECRET``, ``-p'pass'`` (glued; ``-p`` alone prompts). ``-P`` is the port.
    RegexDetector(
        "mysql-p",
        ("mysql", "mariadb"),
        _rx(r"(?i:\b(?:mysql\w*|mariadb\w*)\b)[^\n|;&]*?\s-p(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"';&|]+)"),
    ),
    # Password-taking short flags for tools where ``-a``/``-p`` is known to be a password.
    RegexDetector(
        "cli-short-password",
        ("redis-cli", "sshpass", " login", "keytool", "openssl"),
        _rx(
            r"(?:\bredis-cli\b[^\n|;&]*?\s-a|\bsshpass\b[^\n|;&]*?\s-p|\b(?:docker|podman|helm registry) login\b"
            r"[^\n|;&]*?\s-p|\bkeytool\b[^\n|;&]*?\s-(?:store|key)pass|\bopenssl\b[^\n|;&]*?\s-pass(?:in|out)\s+pass:"
            r"(?=\S))\s*(\"[^\"\n]*\"|'[^'\n]*'|[^\s;&|]+)"
        ),
    ),
    RegexDetector(
        "htpasswd",
        ("htpasswd",),
        _rx(r"\bhtpasswd\s+(?:-\w+\s+)*-\w*b\w*\s+\S+\s+\S+\s+(\S+)"),
    ),
    # curl basic auth: ``curl -u user:pass``, ``--user user:pass`` (not ``--user 1000:1000``).
    RegexDetector(
        "curl-user",
        ("curl", "--user", "--proxy-user"),
        _rx(r"(?:\bcurl\b[^\n|;&]*?\s-u\s*|--user[= ]|--proxy-user[= ])[\"']?[^\s:\"']*:(?!\d+(?:[\s\"']|$))([^\s\"']+)"),
    ),
    # ``kubectl create secret ... --from-literal=anykey=value``: every literal of a Secret.
    RegexDetector(
        "from-literal",
        ("from-literal",),
        _rx(r"--from-literal[= ][\"']?[^=\s\"']+=(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"';&|]+)"),
    ),
    # ``aws configure set aws_secret_access_key X`` (key and value separated by a space).
    RegexDetector(
        "aws-configure",
        ("aws_secret_access_key", "aws_session_token"),
        _rx(r"(?i)\baws_(?:secret_access_key|session_token)\s+(\S+)"),
    ),
    # Modern OpenAI/Anthropic keys (``sk-proj-...``, ``sk-ant-...``): detect-secrets only knows the
    # legacy format. Also Stripe test keys and ``sk_`` style keys, which its plugin leaves alone.
    RegexDetector(
        "sk-key",
        ("sk-", "sk_", "rk_", "pk_live"),
        _rx(r"(?<![\w-])((?:sk|rk|pk_live|sk_test|rk_test)[-_](?:proj-|ant-|svcacct-|admin-|live_|test_)?[A-Za-z0-9_-]{20,})"),
        keep_references=False,
        # The match lower-cased (a character that is not a word character stays one).
        prefilter=r"(?<![a-z0-9_-])(?:sk|rk|pk_live)[-_][a-z0-9_-]{20}",
    ),
    # Other well-known prefixes: GitHub fine-grained PATs, HashiCorp Vault tokens, Google API keys.
    RegexDetector(
        "prefixed-token",
        ("github_pat_", "hvs.", "hvb.", "hvr.", "aiza", "npm_", "dop_v1_", "shpat_"),
        _rx(
            r"(?<![\w-])((?:github_pat_[A-Za-z0-9_]{40,}|hv[sbr]\.[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}"
            r"|npm_[A-Za-z0-9]{30,}|dop_v1_[a-f0-9]{64}|shpat_[a-fA-F0-9]{32}))"
        ),
        keep_references=False,
    ),
    DetectSecretsDetector("aws", ("akia", "asia", "abia", "acca", "a3t"), "aws:AWSKeyDetector"),
    DetectSecretsDetector("azure-storage", ("accountkey=",), "azure_storage_key:AzureStorageKeyDetector"),
    DetectSecretsDetector("github", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), "github_token:GitHubTokenDetector"),
    DetectSecretsDetector(
        "gitlab",
        ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-", "glptt-", "glagent-", "gloas-", "gr1348941"),
        "gitlab_token:GitLabTokenDetector",
    ),
    DetectSecretsDetector("jwt", ("eyj",), "jwt:JwtTokenDetector"),
    # detect-secrets' pattern is ``[0-9a-z]{32}-us[0-9]{1,2}`` (lower-case already).
    DetectSecretsDetector("mailchimp", ("-us",), "mailchimp:MailchimpDetector", prefilter=r"[0-9a-z]{32}-us[0-9]"),
    DetectSecretsDetector("npm", ("_authtoken",), "npm:NpmDetector"),
    DetectSecretsDetector("openai", ("t3blbkfj",), "openai:OpenAIDetector"),
    DetectSecretsDetector("pypi", ("pypi-",), "pypi_token:PypiTokenDetector"),
    DetectSecretsDetector("sendgrid", ("sg.",), "sendgrid:SendGridDetector"),
    DetectSecretsDetector("slack", ("xox", "hooks.slack.com"), "slack:SlackDetector"),
    DetectSecretsDetector("square", ("sq0csp-",), "square_oauth:SquareOAuthDetector"),
    DetectSecretsDetector("stripe", ("sk_live_", "rk_live_"), "stripe:StripeDetector"),
]


def register(detector: Detector) -> None:
    """Add a detector (see docs/secrets.md). Rebuilds the combined prefilter."""
    DETECTORS.append(detector)
    _detectors_changed()


def unregister(name: str) -> None:
    """Remove the detectors called ``name`` (e.g. to switch off one that is noisy for a team)."""
    DETECTORS[:] = [d for d in DETECTORS if d.name != name]
    _detectors_changed()


class CleanMemo(dict):
    """Answers remembered for texts the current detectors mask nothing in (see clean_memo)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: Any, answer: Any) -> None:
        """Keep ``answer`` for ``key`` (a clean text, never a masked one); emptied when full."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = answer


# Memos kept elsewhere of what the detectors left alone (see clean_memo).
_CLEAN_MEMOS: list[CleanMemo] = []


def clean_memo(limit: int = 16384) -> CleanMemo:
    """A new, empty memo of at most ``limit`` answers for texts the current detectors mask nothing in.

    Callers that judge the same texts again and again remember the clean ones in it (never
    a masked one: a secret is not held longer than the text it was found in). It is emptied
    whenever a detector is registered or unregistered, so it never answers for other detectors.
    """
    memo = CleanMemo(limit)
    _CLEAN_MEMOS.append(memo)
    return memo


# Whether DETECTORS is still the list this module defines (see detectors_are_built_in).
_BUILT_IN = True


def detectors_are_built_in() -> bool:
    """Whether no detector was registered or unregistered in this process: then a fresh
    interpreter judges texts exactly as this one does (see :mod:`inventory.scrubjudge`)."""
    return _BUILT_IN


def _detectors_changed() -> None:
    global _BUILT_IN
    _BUILT_IN = False
    _prefilter.cache_clear()
    _has_keyword.cache_clear()
    _prefilters_by_first.cache_clear()
    _keyword_table.cache_clear()
    _gates.cache_clear()
    for memo in _CLEAN_MEMOS:
        memo.clear()


def _trie_regex(words: Iterable[str]) -> str:
    """An alternation of literals factored as a trie: ``re`` tries one branch per first
    character instead of every word at every position (about 10x faster here)."""
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        # A word that ends here makes the longer ones optional; any hit is enough.
        return "" if "" in node else body

    return build(trie)


@lru_cache(maxsize=1)
def _prefilter() -> re.Pattern[str]:
    """One regex over the lower-cased text that matches if *any* detector's keyword occurs."""
    words = {k.lower() for d in DETECTORS for k in d.keywords if k}
    return re.compile(_trie_regex(sorted(words)))


@lru_cache(maxsize=1)
def _has_keyword() -> Callable[[str], bool]:
    """Whether :func:`_prefilter` matches a lower-cased text: a function of the text.

    Asked of every line a scanner keeps. In C where it is built (``_cbuild.has_keyword``: the
    keywords' first two bytes looked up at each position, ~3 ns a character against the
    regex's ~30: about a tenth of a second of the scan's workers at 2,000 services), else
    the regex itself; the same answer either way (tests/test_secrets_keywords.py).
    """
    words = tuple(sorted({k.lower() for d in DETECTORS for k in d.keywords if k}))
    if _c_keyword_set is not None:
        keywords = _c_keyword_set(words)
        if keywords is not None:  # else a keyword the C search does not take (not ASCII)
            return partial(_c_has_keyword, keywords)
    search = _prefilter().search
    return lambda low: search(low) is not None


@lru_cache(maxsize=1)
def _prefilters_by_first() -> tuple[re.Pattern[str], ...]:
    """:func:`_prefilter` as one regex per first character of the keywords, for long texts.

    A regex that starts with a literal is searched by a quick scan for that character; the
    one alternation of every keyword is tried at nearly every position of a lower-cased text
    (its first characters are most letters). Over the 2,000-service estate's 9.7 million
    characters of free text: 0.41 s for the one regex, 0.18 s for these 22.
    """
    by_first: dict[str, set[str]] = {}
    for d in DETECTORS:
        for k in d.keywords:
            if k:
                low = k.lower()
                by_first.setdefault(low[0], set()).add(low)
    return tuple(re.compile(_trie_regex(sorted(words))) for _, words in sorted(by_first.items()))


def _own_prefilter(detector: Detector) -> str | None:
    """The detector's ``prefilter`` pattern (see :class:`Detector`), if it has one."""
    return getattr(detector, "prefilter", None)


@lru_cache(maxsize=1)
def _gates() -> tuple[dict[int, re.Pattern[str]], frozenset[str], re.Pattern[str] | None]:
    """(detector ``id`` -> its compiled prefilter pattern; the keywords only such detectors
    have; one regex for the keywords of every other detector, ``None`` if there are none)."""
    patterns = {id(d): re.compile(p) for d in DETECTORS if (p := _own_prefilter(d)) is not None}
    plain = {k.lower() for d in DETECTORS if id(d) not in patterns for k in d.keywords if k}
    gated = frozenset(k.lower() for d in DETECTORS if id(d) in patterns for k in d.keywords if k) - plain
    return patterns, gated, re.compile(_trie_regex(sorted(plain))) if plain else None


def _may_mask(low: str) -> bool:
    """Whether any detector can run on the lower-cased text ``low``: a keyword of one without
    a prefilter pattern occurs, or a pattern matches (its keywords alone wake nothing)."""
    patterns, _, plain = _gates()
    if plain is not None and plain.search(low):
        return True
    return any(p.search(low) for p in patterns.values())


# --------------------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------------------


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@lru_cache(maxsize=1)
def _keyword_table() -> tuple[tuple[str, frozenset[int]], ...]:
    """Each distinct keyword and the detectors (``id``) it wakes: one ``in`` test per keyword
    instead of one per (detector, keyword) pair on every text that passed the prefilter."""
    table: dict[str, set[int]] = {}
    for d in DETECTORS:
        for k in d.keywords:
            table.setdefault(k, set()).add(id(d))
    return tuple((k, frozenset(ids)) for k, ids in table.items())


def _find_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    low = text.lower()
    woken: set[int] = set()
    for k, ids in _keyword_table():
        if k in low:
            woken |= ids
    if woken:
        patterns = _gates()[0]
        woken = {i for i in woken if i not in patterns or patterns[i].search(low)}
    for d in DETECTORS:
        if id(d) in woken:
            spans.extend(d.spans(text))
    # Never mask (part of) an earlier mask: keeps the function idempotent.
    masks = [(m.start(), m.end()) for m in re.finditer(re.escape(REDACTED), text)] if REDACTED in text else []
    kept = []
    for s, e in _merge(spans):
        if any(ms <= s and e <= me for ms, me in masks):
            continue
        kept.append((s, e))
    return kept


def redact_text(text: str) -> tuple[str, int]:
    """``text`` with every secret span replaced by :data:`REDACTED`, and how many were masked.

    Works on one line or a whole file. A masked span that crossed lines keeps its newlines,
    so line numbers after it do not move. Idempotent: redacting twice masks nothing more.
    """
    if not text or not _has_keyword()(text.lower()):
        return text, 0
    spans = _find_spans(text)
    if not spans:
        return text, 0
    parts: list[str] = []
    last = 0
    for s, e in spans:
        parts.append(text[last:s])
        parts.append(REDACTED + "\n" * text.count("\n", s, e))
        last = e
    parts.append(text[last:])
    return "".join(parts), len(spans)


def redact_lines(lines: Iterable[str]) -> tuple[list[str], list[int]]:
    """Redact a file given as lines; returns the lines and the 1-based numbers of masked lines.

    Scanners that read line by line use this rather than :func:`redact_text` per line, so
    a private key's body (the lines between BEGIN and END) is masked too. The line numbers
    are what a scanner records as ``Evidence`` in ``Fragment.secrets``.
    """
    src = list(lines)
    text = "\n".join(src)
    if not _has_keyword()(text.lower()):
        return src, []
    spans = _find_spans(text)
    if not spans:
        return src, []
    redacted, _ = redact_text(text)
    out = redacted.split("\n")
    starts = [0]
    for line in src:
        starts.append(starts[-1] + len(line) + 1)
    hit: set[int] = set()
    for s, e in spans:
        first = bisect.bisect_right(starts, s)
        last = bisect.bisect_right(starts, max(s, e - 1))
        hit.update(range(first, last + 1))
    return out, sorted(hit)


def redact_value(key: str | None, value: str) -> tuple[str, bool]:
    """Redact one key/value pair from config (env var, YAML value, tfvars, Helm values).

    Under a secret key (:func:`is_secret_key`) the whole value becomes :data:`REDACTED`,
    unless it only refers to a secret (``${VAR}``, ``{{ .Values.x }}``, ``var.db_password``)
    or is empty. Under any other key the value is scanned like free text (a connection string
    under ``DATABASE_URL`` keeps its host and loses its password). Returns the value and
    whether anything was masked.
    """
    if not isinstance(value, str):
        return value, False
    if key and is_secret_key(key):
        if value == REDACTED or is_reference(value):
            return value, False
        return REDACTED, True
    if key and _is_loose_secret_key(key) and _loose_value_is_secret(value):
        return REDACTED, True
    text, n = redact_text(value)
    return text, n > 0


def redact_k8s_secret_data(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    """The ``data``/``stringData`` of a k8s Secret: the keys (names are useful), every value masked.

    Every value is masked whatever its key: in a Secret, ``username`` or ``host`` are
    secret material too, and a base64 value cannot be judged without decoding it.
    """
    if not isinstance(mapping, Mapping):
        return {}
    return {str(k): REDACTED for k in sorted(mapping, key=str)}


# --------------------------------------------------------------------------------------
# Whole structures
# --------------------------------------------------------------------------------------


def _scrub(obj: Any, key: str | None, counter: list[int], memo: dict | None = None) -> Any:
    if isinstance(obj, str):
        # ``memo``: redact_value is a pure function of (key, value), and a whole inventory
        # repeats the same paths, ids and names hundreds of thousands of times.
        if memo is None:
            new, changed = redact_value(key, obj)
        else:
            hit = memo.get((key, obj))
            if hit is None:
                hit = memo[(key, obj)] = redact_value(key, obj)
            new, changed = hit
        if changed:
            counter[0] += 1
        return new
    if isinstance(obj, dict):
        # k8s-style ``{name: DB_PASSWORD, value: ...}`` pairs: the name is the key.
        pair_key = obj.get("name") if isinstance(obj.get("name"), str) and "value" in obj else None
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            nk = _scrub(k, None, counter, memo) if isinstance(k, str) else k
            vk = pair_key if (k == "value" and pair_key) else (k if isinstance(k, str) else None)
            out[nk] = _scrub(v, vk, counter, memo)
        return out
    if isinstance(obj, (list, tuple)):
        items = [_scrub(v, key, counter, memo) for v in obj]
        return type(obj)(items) if isinstance(obj, tuple) else items
    return obj


def scrub_data(obj: Any) -> Any:
    """A copy of any JSON-like structure with secret values masked.

    Strings under a secret key (``{"password": "x"}``, ``{"name": "DB_PASSWORD", "value": "x"}``)
    are masked whole; every other string is scanned with :func:`redact_text`. Non-string
    leaves are returned as they are. Use it on prompts, cache entries and log records.
    """
    return _scrub(obj, None, [0])


def _keyed_strings(text: str) -> set[tuple[str | None, str]]:
    """Every (key, string) pair :func:`_scrub` would judge in the JSON document ``text``.

    Dict keys come with key ``None``; a string value with its dict key (the ``name`` of a
    ``{name, value}`` pair for its ``value``); strings in lists with the key of the list. The
    C JSON parser builds the structure and calls the hook once per object, which is several
    times cheaper than a recursive walk over a ``model_dump``.
    """
    pairs: set[tuple[str | None, str]] = set()
    add = pairs.add

    def in_list(items: list, key: str | None) -> None:
        for v in items:
            if isinstance(v, str):
                add((key, v))
            elif isinstance(v, list):
                in_list(v, key)

    def hook(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        name = obj.get("name")
        pair_key = name if isinstance(name, str) and "value" in obj else None
        for k, v in items:
            add((None, k))
            if isinstance(v, str):
                add((pair_key if (k == "value" and pair_key) else k, v))
            elif isinstance(v, list):
                in_list(v, pair_key if (k == "value" and pair_key) else k)
        return obj

    json.loads(text, object_pairs_hook=hook)
    return pairs


def _masks_any(pairs: Iterable[tuple[str | None, str]]) -> bool:
    """Whether :func:`redact_value` would mask anything in ``pairs`` (exactly, not a guess).

    Values under secret-looking keys are judged one by one. Every other value is free text
    (see :func:`_free_text_masks_any`).
    """
    free: set[str] = set()
    loose_keys: dict[str, bool] = {}
    for key, value in pairs:
        if key is not None:
            loose = loose_keys.get(key)
            if loose is None:
                loose = loose_keys[key] = is_secret_key(key) or _is_loose_secret_key(key)
            if loose:
                if redact_value(key, value)[1]:
                    return True
                continue
        free.add(value)
    return _free_text_masks_any(free)


# Free-text strings judged per prefilter search: large enough that the search is one C call
# over a long text, small enough that its lower-cased copy stays a few megabytes.
_FREE_TEXT_CHUNK = 8192


def _free_text_masks_any(values: Iterable[str]) -> bool:
    """Whether :func:`redact_text` would mask anything in any of ``values``.

    Free text is left alone unless a detector keyword occurs in it: the prefilter's search
    over a chunk of them (lower-cased, NUL-separated) finds the few that need the full
    detectors.
    """
    chunk: list[str] = []
    for v in values:
        if v:
            chunk.append(v)
            if len(chunk) == _FREE_TEXT_CHUNK:
                if _chunk_masks_any(chunk):
                    return True
                chunk = []
    return bool(chunk) and _chunk_masks_any(chunk)


def _chunk_masks_any(values: list[str]) -> bool:
    has_keyword = _has_keyword()
    if isinstance(has_keyword, partial):  # the C keyword search (see _has_keyword)
        # A text with a keyword of a detector that has no prefilter pattern (or whose pattern
        # matches) is judged in full: what the regexes below find, one C call per text.
        return any(has_keyword(low := v.lower()) and _may_mask(low) and redact_text(v)[1] for v in values)
    lowered = [v.lower() for v in values]
    starts: list[int] = []
    pos = 0
    for low in lowered:
        starts.append(pos)
        pos += len(low) + 1
    checked: set[int] = set()
    gated = _gates()[1]
    joined = "\0".join(lowered)
    # Every text with a keyword is met, whichever keyword (and so whichever regex) meets it
    # first: a gated one sends it to _may_mask, which also finds any other keyword in it.
    for prefilter in _prefilters_by_first():
        for m in prefilter.finditer(joined):
            i = bisect.bisect_right(starts, m.start()) - 1
            if i in checked:
                continue
            checked.add(i)
            # A keyword that only wakes a detector with a prefilter pattern (``-us`` of
            # ``kafka-user``): the text is judged in full only if a detector can run on it.
            if m.group() in gated and not _may_mask(lowered[i]):
                continue
            if redact_text(values[i])[1]:
                return True
    return False


def _secretish_key(key: str, memo: dict[str, bool]) -> bool:
    """Whether a value under ``key`` is judged by its key (:func:`redact_value`), not as free text."""
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = is_secret_key(key) or _is_loose_secret_key(key)
    return hit


def _secretish_name(name: str) -> bool:
    return is_secret_key(name) or _is_loose_secret_key(name)


def _model_classes(annotation: Any) -> Iterator[type[BaseModel]]:
    """The model classes named anywhere in a field's ``annotation`` (``list[Fact]``, ``X | None``...)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _model_classes(arg)


@lru_cache(maxsize=None)
def _walked_classes(root: type[BaseModel]) -> tuple[type[BaseModel], ...]:
    """``root`` and every model class its fields name, at any depth, but Evidence (judged by its path)."""
    from inventory.model import Evidence

    seen: dict[type[BaseModel], None] = {}

    def visit(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen[cls] = None
        for f in cls.model_fields.values():
            for sub in _model_classes(f.annotation):
                if sub is not Evidence:
                    visit(sub)

    visit(root)
    return tuple(seen)


@lru_cache(maxsize=None)
def _walker_code(root: type[BaseModel]) -> tuple[CodeType, tuple[tuple[type[BaseModel], str], ...]]:
    """Compiled walkers for :func:`_judged_strings`: one function per model class reachable
    from ``root``'s fields, and (class, function name) of each.

    Generated per class, as the stored form's encoders are (``inventory/store.py``): an
    inventory has over a hundred thousand models, and a loop over each one's fields with a
    call per list or string was most of the walk. Every field is dispatched on its value's
    runtime class, not on its annotation (a model made without validation may hold anything):
    strings, lists, dicts and evidence are judged inline; models of the classes its
    annotation names go straight to their walker; anything else goes to the generic ``value``.
    """
    from inventory.model import Evidence

    names = {cls: f"walk_{i}" for i, cls in enumerate(_walked_classes(root))}
    src: list[str] = []
    for cls, fname in names.items():
        fields = cls.model_fields
        src += [f"def {fname}(obj):", "    d = obj.__dict__"]
        # A {name, value} pair (a dict in the dump): its value is judged under its name when
        # that is a string, as mapping() does.
        pair = "name" in fields and "value" in fields
        if pair:
            src += ["    n = d['name']", "    pair_key = n if n.__class__ is str else 'value'"]
        for name, f in fields.items():
            if pair and name == "value":
                src += ["    x = d['value']",
                        "    if x.__class__ is str:",
                        "        if secretish(pair_key, memo): add_keyed((pair_key, x))",
                        "        else: add_free(x)",
                        "    elif x is not None: value(x, pair_key)"]
                continue
            key = repr(name)
            keep = (lambda v, key=key: f"add_keyed(({key}, {v}))") if _secretish_name(name) else "add_free({})".format
            subs = [names[s] for s in dict.fromkeys(_model_classes(f.annotation)) if s is not Evidence]
            src += [f"    x = d[{key}]",
                    "    c = x.__class__",
                    f"    if c is str: {keep('x')}",
                    "    elif c is list:",
                    "        for i in x:",
                    "            ci = i.__class__",
                    "            if ci is Evidence: add_free(i.path)",
                    *(f"            elif ci is cls_{sub}: {sub}(i)" for sub in subs),
                    f"            elif ci is str: {keep('i')}",
                    f"            else: value(i, {key})",
                    "    elif c is dict:",
                    # mapping() inlined for a dict that is not a {name, value} pair (labels, attributes, flags)
                    "        if x:",
                    "            n = x.get('name')",
                    "            if n.__class__ is str and 'value' in x: mapping(x)",
                    "            else:",
                    "                for k, v in x.items():",
                    "                    if k.__class__ is str:",
                    "                        add_free(k)",
                    "                        if v.__class__ is str:",
                    "                            if secretish(k, memo): add_keyed((k, v))",
                    "                            else: add_free(v)",
                    "                        else: value(v, k)",
                    "                    else: value(v, None)",
                    "    elif c is Evidence: add_free(x.path)",
                    *(f"    elif c is cls_{sub}: {sub}(x)" for sub in subs),
                    f"    elif x is not None and c is not int and c is not bool: value(x, {key})"]
    code = compile("\n".join(src) + "\n", f"<judged strings of {root.__name__}>", "exec")
    return code, tuple(names.items())


def _judged_strings(obj: Any) -> tuple[set[str], set[tuple[str, str]]]:
    """(free-text strings, (secret-looking key, value) pairs) that :func:`_scrub` judges in ``obj``'s dump.

    See :func:`_judging`, whose walk this is from ``obj`` down.
    """
    free, keyed, value = _judging()
    value(obj, None)
    return free, keyed


def _judging() -> tuple[set[str], set[tuple[str, str]], Callable[[Any, str | None], None]]:
    """Two sets, (free-text strings, (secret-looking key, value) pairs), and a walk
    ``value(v, key)`` that adds to them what :func:`_scrub` judges in ``v``'s dump under ``key``.

    ``v`` is a pydantic model (or a dict, list or string of them), walked as
    ``model_dump(mode="python")`` would lay it out, without building the dump: a model is a
    dict keyed by its field names, a ``{name, value}`` pair (a :class:`~inventory.model.Fact`,
    or such a dict under ``attributes``) gives its value the name as key, and strings in a
    list take the list's key. A value whose key does not look like a secret's is judged as
    free text whatever its key, so only its distinct text is kept; dict keys and field names
    are free text too. Holds the distinct strings only, never a copy of the structure.

    Models are walked by functions generated per class (see :func:`_walker_code`); the
    field names of every class they cover are judged once, up front.
    """
    from pydantic import BaseModel

    from inventory.model import Evidence

    free: set[str] = set()
    keyed: set[tuple[str, str]] = set()
    memo: dict[str, bool] = {}
    walkers: dict[type, Callable[[BaseModel], None]] = {}
    add_free = free.add
    add_keyed = keyed.add
    # Evidence is judged by its path alone; its field names once, up front.
    free.update(Evidence.model_fields)

    def value(v: Any, key: str | None) -> None:
        t = type(v)
        if t is str:
            if key is not None and _secretish_key(key, memo):
                add_keyed((key, v))
            else:
                add_free(v)
        elif t is list or t is tuple:
            for item in v:
                value(item, key)
        elif t is dict:
            mapping(v)
        elif t is Evidence:
            add_free(v.path)
        elif isinstance(v, BaseModel):
            walker = walkers.get(t)
            if walker is None:
                walker = _bind_walkers(t)
            walker(v)

    def mapping(d: dict) -> None:
        name = d.get("name")
        pair_key = name if type(name) is str and "value" in d else None
        for k, v in d.items():
            if type(k) is str:
                add_free(k)
                value(v, pair_key if (pair_key is not None and k == "value") else k)
            else:
                value(v, None)

    def _bind_walkers(t: type[BaseModel]) -> Callable[[BaseModel], None]:
        code, names = _walker_code(t)
        env: dict[str, Any] = {"add_free": add_free, "add_keyed": add_keyed, "value": value, "mapping": mapping,
                               "secretish": _secretish_key, "memo": memo, "Evidence": Evidence}
        env.update((f"cls_{fname}", cls) for cls, fname in names)
        exec(code, env)  # noqa: S102 - code built from field names only
        for cls, fname in names:
            if cls not in walkers:
                walkers[cls] = env[fname]
                free.update(cls.model_fields)
        return walkers[t]

    return free, keyed, value


def _judging_beside_table() -> tuple[set[str], set[tuple[str, str]], Callable[[Any, str | None], None]]:
    """:func:`_judging` for a caller that has every string of the dump already (the stored
    form's string table, ``store.Sight``): its walk adds to ``free`` only what that lacks.

    A string is judged only for its key, and so are the strings of a list and of a dict that
    is not a ``{name, value}`` pair (the labels, attributes and flags of most models).
    """
    free, keyed, value = _judging()
    add_keyed = keyed.add
    memo: dict[str, bool] = {}

    def strings(v: list, key: str | None) -> None:
        by_key = key is not None and _secretish_key(key, memo)
        for x in v:
            if x.__class__ is str:
                if by_key:
                    add_keyed((key, x))  # type: ignore[arg-type]
            elif x is not None:
                value(x, key)

    def seen(v: Any, key: str | None) -> None:
        c = v.__class__
        if c is str:
            if key is not None and _secretish_key(key, memo):
                add_keyed((key, v))
        elif c is list:
            strings(v, key)
        elif c is dict and not (v.get("name").__class__ is str and "value" in v):
            for k, x in v.items():
                if k.__class__ is not str:
                    k = None
                if x.__class__ is str:
                    if k is not None and _secretish_key(k, memo):
                        add_keyed((k, x))
                elif x.__class__ is list:
                    strings(x, k)
                elif x is not None:
                    value(x, k)
        elif v is not None:
            value(v, key)

    # What ``seen`` has judged of each key so far (key -> judged by it, as a secret's): a
    # caller may skip showing it what these answers say it ignores (the C encoder does so for
    # ~45,000 values of an inventory at 2,000 services, most of them plain labels and flags).
    seen.judged_keys = memo  # type: ignore[attr-defined]
    # It reads what it is shown and changes none of it: the C encoder may read the rest of the
    # inventory on a second thread meanwhile (store.dump_parts).
    seen.reads_only = True  # type: ignore[attr-defined]
    return free, keyed, seen


def _masks_any_model(obj: Any) -> bool:
    """Whether :func:`_scrub` would mask anything in ``obj``'s dump (exactly; see :func:`_judged_strings`)."""
    free, keyed = _judged_strings(obj)
    return any(redact_value(key, value)[1] for key, value in keyed) or _free_text_masks_any(free)


# The inventory's lists of items: scrubbed (and rebuilt) one item at a time.
_ITEM_LISTS = ("components", "resources", "edges", "actions", "owners", "environments", "secrets", "warnings")


def scrub_inventory(inv: Inventory) -> Inventory:
    """The last line of defence over the whole built inventory.

    Judges every string of the model and masks secrets left by a scanner. Returns ``inv``
    itself when nothing would be masked (the common case, decided over the distinct
    strings without dumping the model), else a new inventory in which only the items that
    held a secret are rebuilt (the others are the same objects).
    """
    if not _masks_any_model(inv):
        return inv
    return _scrubbed(inv)


def _scrubbed(inv: Inventory) -> Inventory:
    """:func:`scrub_inventory` once something in ``inv`` is known to be masked."""
    from inventory.model import Inventory

    memo: dict = {}
    counter = [0]
    # Field names of the model are not config keys: only ``attributes``/``labels``/``flags``
    # hold scanned keys, but a secret-looking field name never occurs in the model, so the
    # keyed walk is safe on each item's dump. Item by item, so the whole inventory is never
    # dumped at once; a list item's strings take the list's key, as in a whole dump.
    top = _scrub(inv.model_dump(mode="python", exclude=set(_ITEM_LISTS)), None, counter, memo)
    for name in _ITEM_LISTS:
        items = []
        for item in getattr(inv, name):
            before = counter[0]
            data = _scrub(item.model_dump(mode="python"), name, counter, memo)
            items.append(type(item).model_validate(data) if counter[0] != before else item)
        top[name] = items
    if counter[0] == 0:
        return inv
    return Inventory.model_validate(top)
