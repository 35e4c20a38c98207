"""What a Ruby snippet typed into a Rails console or ``rails runner`` does (GitLab runbooks).

Not a Ruby parser: method names decide. ``destroy``/``delete_all``/``truncate`` destroy,
``update``/``save``/``create`` write, token and password readers reveal secrets, everything
else reads; giving admin rights, members, passwords or tokens grants access. Kinds are
reported the way SQL statement kinds are (``sql_kinds``).
"""

from __future__ import annotations

import re

_DESTROY = re.compile(r"\.(destroy|destroy!|destroy_all|delete|delete_all|delete_by|destroy_by|truncate|"
                      r"purge|purge_later|erase|drop_table|remove_column|execute\s*\(\s*['\"]\s*(?:drop|truncate|delete))\b"
                      r"|\bRails\.cache\.clear\b|\bFileUtils\.rm_r[f]?\b|\bdrop_table\b", re.I)
_WRITE = re.compile(r"\.(update|update!|update_all|update_column|update_columns|update_attribute|save|save!|"
                    r"create|create!|insert|insert_all|upsert|upsert_all|increment!|decrement!|toggle!|touch|"
                    r"block|unblock|activate|deactivate|ban|unban|lock_access!|unlock_access!|confirm|transfer|"
                    r"schedule|perform_async|perform_later|perform_now|execute|reset_.*|expire.*|import|"
                    r"add_.*|remove_.*|set_.*|assign_.*|approve!?|retry!?|cancel!?|drop!?|run!?)\b|"
                    r"\.\w+\s*=[^=~]|\bSidekiq::|\bFeature\.(enable|disable)\b|\bApplicationSetting\.", re.I)
_SECRET = re.compile(r"(token|password|secret|private_key|otp_secret|encrypted_|credentials|api_key|"
                     r"runners_registration_token|signing_key|Gitlab::CurrentSettings)", re.I)
_GRANT = re.compile(r"\badmin\s*[:=]\s*true\b|\.admin\s*=|\.add_(?:member|owner|maintainer|developer|reporter|guest|user|members)\b|"
                    r"access_level\s*[:=]|\.(?:create_)?personal_access_tokens?\.create|\bPersonalAccessToken\.create|"
                    r"\.(?:add|grant)_role\b|\bcan_create_group\s*[:=]\s*true|\.password\s*=|\bpassword_confirmation\b|"
                    r"\.reset_password|\bDeployKey\.create|\bkeys\.create\b|\bskip_reconfirmation|\botp_required_for_login\s*[:=]\s*false",
                    re.I)
_SHELL = re.compile(r"\b(system|exec|spawn|`|%x|Open3|IO\.popen|Kernel\.)\b|`", re.I)


def ruby_kinds(code: str) -> list[str]:
    """``shell``, ``grant``, ``destroy``, ``write``, ``secret`` and ``read`` (the last when nothing else)."""
    kinds = []
    if _SHELL.search(code):
        kinds.append("shell")
    if _GRANT.search(code):
        kinds.append("grant")
    if _DESTROY.search(code):
        kinds.append("destroy")
    if _WRITE.search(code):
        kinds.append("write")
    if _SECRET.search(code):
        kinds.append("secret")
    return kinds or ["read"]
