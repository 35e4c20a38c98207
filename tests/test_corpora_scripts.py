"""Runbook steps that run a script, on a real repository (../shared/corpora; skipped when absent).

terraform-example-foundation's READMEs run ``./tf-wrapper.sh plan production`` after copying
the wrapper in from another checkout: the script is not in the scanned tree, so each call
stays an unknown program (a human decides), never a guess at what the script does. What the
call operates is still known when its argument names exactly one root module (the runbook's
``envs/<env>`` folder): the action is on that root, not on a guessed script body.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generators.classify import Classifier
from generators.risk.assess import build_index
from inventory.scan import scan_paths

FOUNDATION = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "terraform-google-modules__terraform-example-foundation"

pytestmark = pytest.mark.corpora


def test_a_script_the_repository_does_not_hold_stays_an_unknown_program() -> None:
    if not FOUNDATION.is_dir():
        pytest.skip(f"corpus not available: {FOUNDATION}")
    inv, _ = scan_paths([FOUNDATION], use_cache=False, jobs=1)
    calls = [a for a in inv.actions if a.tool == "tf-wrapper.sh"]
    assert calls, "the READMEs run ./tf-wrapper.sh"
    for a in calls:
        if a.id.startswith("cmd:tf-wrapper.sh/"):
            continue  # operates nothing the inventory holds
        # Placed on the one root its argument names, never by what the script might run.
        env_arg = a.commands[0].command.split()[-1]
        assert a.target.startswith("other:tf-root-") and a.target.endswith(env_arg), (a.id, a.target)
    assert any(ref.evidence.path == "4-projects/README.md" for a in calls for ref in a.commands)
    clf = Classifier(index=build_index(inv))
    c = clf.classify("./tf-wrapper.sh apply production")
    assert c.tier == "T2" and c.decision == "ask"
    assert not any((r.via or "").startswith("script ") for r in c.commands)
