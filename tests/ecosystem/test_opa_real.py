"""OPA's exported Rego in a second Rego v1 engine (rego-cpp's ``regopy``, from PyPI; the
fast suite uses regorus): the same tier as ``classify`` on every corpus line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generators.exporters.opa_input import opa_input
from tests.ecosystem import tools
from tests.ecosystem.conftest import REPORTS
from tests.enforce_equivalence import Report

pytestmark = pytest.mark.ecosystem

# regopy runs in a child process: a crash in the engine must fail this test, not pytest.
_EVAL = r"""
import json, sys
import regopy
opa, facts = sys.argv[1], json.load(sys.stdin)
out = []
i = regopy.Interpreter()
i.add_module("stackpolicy.rego", open(opa + "/stackpolicy.rego").read())
i.add_data_json(open(opa + "/data.json").read())
for f in facts:
    i.set_input_term(json.dumps(f))
    r = i.query("data.stackpolicy.decision")
    out.append(json.loads(str(r))["expressions"][0] if r.ok() else "error: " + str(r))
print(json.dumps(out))
"""


def test_rego_cpp_equals_classify(exported: Path, clf, lines: list[str]) -> None:  # noqa: ANN001
    target = tools.regopy_path()
    facts = [opa_input(clf.classify(line)) for line in lines]
    res = subprocess.run([sys.executable, "-c", _EVAL, str(exported / "enforce" / "opa")], input=json.dumps(facts),
                         capture_output=True, text=True, timeout=900, env={"PYTHONPATH": str(target)})
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout)
    rep = Report("opa (rego-cpp)")
    for line, decision in zip(lines, got):
        rep.add(line, clf.classify(line).decision, decision)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "opa.json").write_text(json.dumps({"lines": len(lines), "summary": rep.summary(),
                                                  "differ": rep.weaker + rep.stricter}, indent=1))
    print("\n" + rep.summary())
    assert rep.weaker == [] and rep.stricter == []
