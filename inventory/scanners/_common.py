"""Small helpers shared by the non-Kubernetes scanners (Terraform, compose, Backstage...).

They wrap the project-wide secret redaction and data-class detection so each scanner keeps a
value the same way: secret-named keys are fully masked, other values have secret-looking
spans masked, and the caller learns whether anything was masked (to record evidence).
"""

from __future__ import annotations

from inventory.model import DATA_CLASSES, Evidence, Fact, FactValue
from inventory.scanners.base import Fragment
from inventory.secrets import REDACTED, is_secret_key, redact_text

try:  # the keyword table lives with the Kubernetes scanner's helpers
    from inventory.dataclasses import data_classes_for as _data_classes_for
except ImportError:  # pragma: no cover - only while that module is not installed
    _data_classes_for = None


def keep_value(key: str, value: str) -> tuple[str, bool]:
    """``value`` as it may be stored under ``key``, and whether anything was masked."""
    if is_secret_key(key) and value.strip():
        return REDACTED, True
    text, count = redact_text(value)
    return text, count > 0


def keep(frag: Fragment, key: str, value: str, evidence: Evidence) -> str:
    """:func:`keep_value`, recording ``evidence`` on ``frag.secrets`` when it masked something."""
    text, masked = keep_value(key, value)
    if masked and evidence not in frag.secrets:
        frag.secrets.append(evidence)
    return text


def data_classes(*texts: str | None) -> list[str]:
    """Data classes named or hinted by ``texts`` (tags, labels, names), sorted."""
    clean = [t for t in texts if t]
    if _data_classes_for is not None:
        return sorted(set(_data_classes_for(*clean)))
    found = {t.strip().lower() for t in clean} & set(DATA_CLASSES)
    return sorted(found)


def fact(name: str, value: FactValue, evidence: Evidence) -> Fact:
    """A one-evidence fact."""
    return Fact(name=name, value=value, evidence=[evidence])
