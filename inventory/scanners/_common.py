"""Small helpers shared by the scanners (Terraform, compose, Backstage, Kubernetes, Helm...).

They wrap the project-wide secret redaction and data-class detection so each scanner keeps a
value the same way: secret-named keys are fully masked, other values have secret-looking
spans masked, and the caller learns whether anything was masked (to record evidence).
"""

from __future__ import annotations

from inventory.commands.model import trusted
from inventory.model import Evidence, Fact, FactValue, Owner
from inventory.scanners.base import Fragment
from inventory.dataclasses import data_classes_for
from inventory.secrets import clean_memo, redact_value


def keep_value(key: str, value: str) -> tuple[str, bool]:
    """``value`` as it may be stored under ``key``, and whether anything was masked."""
    if not (isinstance(key, str) and isinstance(value, str)):
        return redact_value(key, value)
    # An estate says the same things again and again (a workload's env vars are summarised
    # and then read for references, each environment's values file repeats the defaults):
    # about two thirds of the pairs a scan redacts were redacted before.
    kept = _CLEAN_PAIRS.get((key, value))
    if kept is None:
        kept = redact_value(key, value)
        if not kept[1]:  # only what nothing was masked in is remembered
            _CLEAN_PAIRS.remember((key, value), kept)
    return kept


# (key, value) -> keep_value's answer, for pairs the detectors mask nothing in; emptied when
# they change (see secrets.clean_memo).
_CLEAN_PAIRS = clean_memo()


def keep(frag: Fragment, key: str, value: str, evidence: Evidence) -> str:
    """:func:`keep_value`, recording ``evidence`` on ``frag.secrets`` when it masked something."""
    text, masked = keep_value(key, value)
    if masked and evidence not in frag.secrets:
        frag.secrets.append(evidence)
    return text


def data_classes(*texts: str | None) -> list[str]:
    """Data classes named or hinted by ``texts`` (tags, labels, names), sorted."""
    return sorted(set(data_classes_for(*(t for t in texts if t))))


# Fact values kept as they are by validation (a list is copied, so it is validated).
_SCALAR_VALUES = frozenset((str, int, bool))


def fact(name: str, value: FactValue, evidence: Evidence, how: str | None = None) -> Fact:
    """A one-evidence fact."""
    if type(name) is str and type(value) in _SCALAR_VALUES and type(evidence) is Evidence \
            and (how is None or type(how) is str):
        # Built without validating again (~15,000 per 2,000 services, most from manifests).
        return trusted(Fact, {"name": name, "value": value, "evidence": [evidence], "how": how})
    return Fact(name=name, value=value, evidence=[evidence], how=how)


def owner(name: str, evidence: Evidence) -> Owner:
    """A team that owns something, stated at ``evidence``."""
    if type(name) is str and type(evidence) is Evidence:
        return trusted(Owner, {"name": name, "kind": "team", "evidence": [evidence]}, {"name", "evidence"})
    return Owner(name=name, evidence=[evidence])
