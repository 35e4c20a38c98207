"""Generic command-line option parsing shared by the tool parsers.

A tool parser describes its options as a :class:`OptSpec` (which take a value, short
aliases, which are secret) and gets back flags and positionals. Secret-bearing options
(passwords, tokens, ``-a`` of redis-cli...) are recorded by presence only, never by value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.secrets import is_secret_key


@dataclass(frozen=True)
class OptSpec:
    """How one tool's options look.

    ``values``: long names (no dashes) that take a value. ``aliases``: short or alternative
    names → long name. ``secret``: names whose value must never be kept. ``single_dash_long``:
    the tool spells long options with one dash (terraform ``-target=x``).
    """

    values: frozenset[str] = frozenset()
    aliases: dict[str, str] = field(default_factory=dict)
    secret: frozenset[str] = frozenset()
    multi: frozenset[str] = frozenset()  # options that may repeat; values joined with ","
    single_dash_long: bool = False
    drop: frozenset[str] = frozenset()  # options whose value is not worth keeping (bodies, headers)
    public: frozenset[str] = frozenset()  # secret-sounding names that only name things (gcloud --secret)


@dataclass
class Parsed:
    """Result of :func:`parse_options`."""

    flags: dict[str, str | bool] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)
    after_dashdash: list[str] | None = None  # everything after a bare ``--``
    raw_values: dict[str, list[str]] = field(default_factory=dict)  # every value seen, secrets excluded


def spec(values: str = "", aliases: dict[str, str] | None = None, secret: str = "", multi: str = "",
         single_dash_long: bool = False, drop: str = "", public: str = "") -> OptSpec:
    """Build an :class:`OptSpec` from space-separated names (terse tool tables)."""
    return OptSpec(
        values=frozenset(values.split()),
        aliases=dict(aliases or {}),
        secret=frozenset(secret.split()),
        multi=frozenset(multi.split()),
        single_dash_long=single_dash_long,
        drop=frozenset(drop.split()),
        public=frozenset(public.split()),
    )


# Option names that identify a secret rather than carry one (--secret-id, --secret-name).
_IDENTIFIER_SUFFIXES = ("-id", "-ids", "-name", "-arn", "-identifier")


def _store(p: Parsed, sp: OptSpec, name: str, value: str | bool) -> None:
    if name in sp.secret or (isinstance(value, str) and is_secret_key(name) and name not in sp.public
                             and not name.endswith(_IDENTIFIER_SUFFIXES)):
        p.flags[name] = True  # presence only: the value is a credential
        return
    if name in sp.drop:
        p.flags[name] = True
        return
    if isinstance(value, str):
        p.raw_values.setdefault(name, []).append(value)
        if name in sp.multi and isinstance(p.flags.get(name), str):
            p.flags[name] = f"{p.flags[name]},{value}"
            return
    p.flags[name] = value


def parse_options(args: list[str], sp: OptSpec, *, stop_at_positional: bool = False) -> Parsed:
    """Split ``args`` into flags and positionals according to ``sp``."""
    p = Parsed()
    positionals = p.positionals
    aliases, values, single_dash_long = sp.aliases, sp.values, sp.single_dash_long  # read once, not per word
    i = 0
    n = len(args)
    while i < n:
        a = args[i]
        if a[:1] != "-":  # a positional (most words): none of the option forms below
            if stop_at_positional:
                positionals.extend(args[i:])
                break
            positionals.append(a)
            i += 1
            continue
        if a == "--":
            p.after_dashdash = args[i + 1 :]
            break
        if a.startswith("--") or (single_dash_long and len(a) > 2):
            body = a.lstrip("-")
            name, eq, val = body.partition("=")
            name = aliases.get(name, name)
            if eq:
                _store(p, sp, name, val)
            elif name in values and i + 1 < n:
                _store(p, sp, name, args[i + 1])
                i += 1
            else:
                _store(p, sp, name, True)
        elif len(a) > 1 and not a[1].isdigit():
            letters = a[1:]
            j = 0
            while j < len(letters):
                short = letters[j]
                name = aliases.get(short, short)
                if name in values:
                    rest = letters[j + 1 :]
                    if rest.startswith("="):
                        rest = rest[1:]
                    if rest:
                        _store(p, sp, name, rest)
                    elif i + 1 < n:
                        _store(p, sp, name, args[i + 1])
                        i += 1
                    else:
                        _store(p, sp, name, True)
                    break
                _store(p, sp, name, True)
                j += 1
        else:
            positionals.append(a)  # `-` alone, or a negative number
        i += 1
    return p
