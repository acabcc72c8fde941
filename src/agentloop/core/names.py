"""Names derived from user text: run labels, spec slugs, branch names and directory names.

Everything here is ASCII on output. Non-ASCII letters are folded to their ASCII base where
Unicode knows one (``café`` -> ``cafe``) and dropped otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePath

from agentloop.core.errors import InvalidInput

MAX_NAME_LENGTH = 64
SPEC_SLUG_FALLBACK = "spec"
BRANCH_SLUG_FALLBACK = "run"

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_DIR_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
# git check-ref-format: no control characters, space, ~ ^ : ? * [ or backslash anywhere.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _slugify(text: str) -> str:
    return _NOT_SLUG.sub("-", _ascii(text).lower()).strip("-")


def spec_slug(spec_path: str | PurePath) -> str:
    """The spec file's stem, lowercased, each run of non-alphanumerics turned into one ``-``,
    trimmed of ``-``; ``spec`` when nothing is left (``specs/Auth Flow.md`` -> ``auth-flow``)."""
    return _slugify(PurePath(spec_path).stem) or SPEC_SLUG_FALLBACK


def sanitize_run_name(text: str) -> str:
    """A run's human label: ASCII, control characters removed, whitespace collapsed to single
    spaces, trimmed, at most 64 characters.

    Raises :class:`InvalidInput` when nothing printable is left, so that a caller with a
    fallback (the naming step falls back to the spec slug) can use it and a user who typed
    ``--name`` gets a clear error.
    """
    name = _CONTROL.sub("", _WHITESPACE.sub(" ", _ascii(text)))
    name = _WHITESPACE.sub(" ", name).strip()[:MAX_NAME_LENGTH].rstrip()
    if not name:
        raise InvalidInput(f"run name {text!r} has no printable ASCII characters", name=text)
    return name


def branch_slug(name: str) -> str:
    """A run name as one branch-name component: lowercase ASCII letters, digits and single
    dashes, at most 64 characters, ``run`` when nothing is left. Always passes
    ``git check-ref-format --branch`` (with any valid prefix in front)."""
    return _slugify(name)[:MAX_NAME_LENGTH].rstrip("-") or BRANCH_SLUG_FALLBACK


def sanitize_dir_name(value: str) -> str:
    """One safe directory-name component: every character but ASCII letters, digits, ``.``,
    ``_`` and ``-`` becomes ``-`` (``run/x`` -> ``run-x``); leading dots are dropped so the
    result is never hidden, ``.`` or ``..``; ``_`` when nothing is left."""
    return _NOT_DIR_SAFE.sub("-", value).lstrip(".") or "_"


def is_valid_branch_name(name: str) -> bool:
    """Whether ``name`` is a valid branch name by the rules of ``git check-ref-format
    --branch``, and not ``@``, which git takes but which means HEAD in a revision."""
    if not name or name == "@" or name.startswith("-"):
        return False
    if _REF_FORBIDDEN.search(name) or ".." in name or "@{" in name:
        return False
    if name.startswith("/") or name.endswith("/") or "//" in name or name.endswith("."):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
