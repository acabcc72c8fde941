"""The worktree path template (SPEC 8): ``{{ variable | filter }}`` placeholders in text.

A deliberately tiny language: a placeholder names one variable, optionally followed by
filters separated by ``|``; whitespace inside the braces is optional. Anything else inside
``{{ }}``, an unknown variable or filter, or an unclosed ``{{`` is a :class:`TemplateError`.
Names derived from user text (slugs, run names) live in :mod:`agentloop.core.names` and are
re-exported here for convenience.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from agentloop.core.errors import TemplateError
from agentloop.core.names import branch_slug, sanitize_dir_name, sanitize_run_name, spec_slug

__all__ = [
    "DEFAULT_WORKTREE_TEMPLATE",
    "TEMPLATE_FILTERS",
    "TEMPLATE_VARIABLES",
    "branch_slug",
    "render_template",
    "render_worktree_path",
    "sanitize_run_name",
    "spec_slug",
    "validate_template",
]

DEFAULT_WORKTREE_TEMPLATE = "../{{ repo }}.{{ run_branch | sanitize }}"
TEMPLATE_VARIABLES = ("repo", "run_branch", "spec_slug", "run_id", "name")
TEMPLATE_FILTERS: Mapping[str, Callable[[str], str]] = {"sanitize": sanitize_dir_name}

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render_template(template: str, variables: Mapping[str, str]) -> str:
    """Substitute every placeholder of ``template`` with its variable, filters applied.

    Raises :class:`TemplateError` naming the offending variable or filter.
    """
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        out.append(_literal(template, template[position : match.start()]))
        out.append(_evaluate(template, match.group(1), variables))
        position = match.end()
    out.append(_literal(template, template[position:]))
    return "".join(out)


def render_worktree_path(template: str, **variables: str) -> str:
    """The worktree path template rendered with ``repo``, ``run_branch``, ``spec_slug``,
    ``run_id`` and ``name``; still relative to the workspace (see
    :func:`agentloop.core.workspace.worktree_path`, which also joins and checks it)."""
    return render_template(template, variables)


def validate_template(template: str) -> None:
    """Raise :class:`TemplateError` unless ``template`` renders with the known variables."""
    render_template(template, dict.fromkeys(TEMPLATE_VARIABLES, "x"))


def _literal(template: str, text: str) -> str:
    if "{{" in text:
        raise TemplateError(f"unclosed '{{{{' in template {template!r}", template=template)
    return text


def _evaluate(template: str, expression: str, variables: Mapping[str, str]) -> str:
    name, *filters = (part.strip() for part in expression.split("|"))
    if not _IDENTIFIER.fullmatch(name):
        raise TemplateError(
            f"bad placeholder {{{{{expression}}}}} in template {template!r}: expected "
            "'{{ variable }}' or '{{ variable | filter }}'",
            template=template,
            name=name,
        )
    if name not in TEMPLATE_VARIABLES:
        raise TemplateError(
            f"unknown template variable {name!r} in {template!r}; known: "
            + ", ".join(TEMPLATE_VARIABLES),
            template=template,
            name=name,
        )
    if name not in variables:
        raise TemplateError(
            f"no value for template variable {name!r} in {template!r}",
            template=template,
            name=name,
        )
    value = variables[name]
    for filter_name in filters:
        apply = TEMPLATE_FILTERS.get(filter_name)
        if apply is None:
            raise TemplateError(
                f"unknown template filter {filter_name!r} in {template!r}; known: "
                + ", ".join(TEMPLATE_FILTERS),
                template=template,
                name=filter_name,
            )
        value = apply(value)
    return value
