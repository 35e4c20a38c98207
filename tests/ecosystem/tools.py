"""Installing the real tools for the ecosystem suite into ``.cache/ecosystem`` (gitignored):
Codex and Claude Code from npm, a Rego engine from PyPI. Each installer returns the path of
what it installed, or calls ``pytest.skip`` with a visible reason when a registry cannot be
reached (the suite is optional; ``make test`` never needs the network)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "ecosystem"
CODEX_VERSION = "0.171.0"
CLAUDE_VERSION = "2.1.332"
REGOPY_VERSION = "1.5.2"


def _run(cmd: list[str], cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def npm_tool(package: str, version: str, binary: str) -> Path:
    """``binary`` of ``package@version``, installed under ``.cache/ecosystem/npm`` once."""
    prefix = CACHE / "npm"
    exe = prefix / "node_modules" / ".bin" / binary
    pkg_json = prefix / "node_modules" / package / "package.json"
    if not (exe.exists() and pkg_json.is_file() and f'"version": "{version}"' in pkg_json.read_text()):
        if shutil.which("npm") is None:
            pytest.skip(f"npm is not installed: cannot install {package}")
        prefix.mkdir(parents=True, exist_ok=True)
        try:
            res = _run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"{package}@{version}"])
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {package}@{version} timed out (registry unreachable?)")
        if res.returncode != 0:
            pytest.skip(f"npm install {package}@{version} failed (registry unreachable?): {res.stderr.strip()[-300:]}")
    return exe


def codex() -> Path:
    return npm_tool("@openai/codex", CODEX_VERSION, "codex")


def claude() -> Path:
    """The Claude Code CLI; npm blocks its postinstall, which fetches the native binary, so
    ``install.cjs`` is run here (once)."""
    exe = npm_tool("@anthropic-ai/claude-code", CLAUDE_VERSION, "claude")
    probe = _run([str(exe), "--version"], timeout=120)
    if probe.returncode != 0 or "Claude Code" not in probe.stdout:
        pkg = CACHE / "npm" / "node_modules" / "@anthropic-ai" / "claude-code"
        try:
            res = _run(["node", "install.cjs"], cwd=pkg, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("Claude Code's install.cjs timed out (registry unreachable?)")
        probe = _run([str(exe), "--version"], timeout=120)
        if probe.returncode != 0:
            pytest.skip(f"Claude Code CLI could not be installed: {(res.stderr or probe.stderr).strip()[-300:]}")
    return exe


def regopy_path() -> Path:
    """rego-cpp's Python package (a second Rego v1 engine besides regorus) in its own folder."""
    target = CACHE / "pypi"
    if not (target / "regopy").is_dir():
        try:
            res = _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(target), f"regopy=={REGOPY_VERSION}"])
        except subprocess.TimeoutExpired:
            pytest.skip("pip install regopy timed out (PyPI unreachable?)")
        if res.returncode != 0:
            pytest.skip(f"pip install regopy failed (PyPI unreachable?): {res.stderr.strip()[-300:]}")
    return target


def codex_native(wrapper: Path) -> Path:
    """The platform binary the npm wrapper starts (5x faster to spawn than the node wrapper)."""
    found = sorted((CACHE / "npm" / "node_modules" / "@openai").glob("codex-*/vendor/*/bin/codex"))
    return found[0] if found else wrapper
