"""The Jinja2 prompt templates (package data). Users override any of them by putting a
file of the same name in ``prompts_dir`` (stackpolicy.yaml) or ``--prompts-dir``."""
