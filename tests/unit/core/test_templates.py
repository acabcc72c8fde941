import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.errors import TemplateError
from agentloop.core.templates import (
    DEFAULT_WORKTREE_TEMPLATE,
    TEMPLATE_VARIABLES,
    render_template,
    render_worktree_path,
    validate_template,
)

VARIABLES = {
    "repo": "shop",
    "run_branch": "run/fix-login",
    "spec_slug": "auth",
    "run_id": "0190c0de-0000-7000-8000-000000000000",
    "name": "Fix login",
}


def test_default_template_renders_sibling_directory() -> None:
    assert render_template(DEFAULT_WORKTREE_TEMPLATE, VARIABLES) == "../shop.run-fix-login"
    assert render_worktree_path(DEFAULT_WORKTREE_TEMPLATE, **VARIABLES) == "../shop.run-fix-login"


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{repo}}", "shop"),
        ("{{   repo   }}", "shop"),
        ("{{run_branch|sanitize}}", "run-fix-login"),
        ("{{ run_branch | sanitize | sanitize }}", "run-fix-login"),
        ("wt/{{ spec_slug }}-{{ run_id }}", "wt/auth-0190c0de-0000-7000-8000-000000000000"),
        ("{{ name | sanitize }}", "Fix-login"),
        ("no placeholders", "no placeholders"),
        ("a }} b", "a }} b"),
        ("", ""),
    ],
)
def test_render(template: str, rendered: str) -> None:
    assert render_template(template, VARIABLES) == rendered


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{ nope }}", "nope"),
        ("{{ repo | upper }}", "upper"),
        ("{{ repo | }}", ""),
        ("{{ }}", ""),
        ("{{ repo name }}", "repo name"),
        ("{{ repo", None),
        ("x {{ repo }} {{", None),
    ],
)
def test_bad_templates_raise_template_error_naming_the_problem(
    template: str, named: str | None
) -> None:
    with pytest.raises(TemplateError) as caught:
        render_template(template, VARIABLES)
    assert template in str(caught.value)
    if named:
        assert named in str(caught.value)


def test_unknown_variable_error_lists_known_ones() -> None:
    with pytest.raises(TemplateError, match="known: repo, run_branch"):
        render_template("{{ branch }}", VARIABLES)


def test_missing_value_of_known_variable_is_an_error() -> None:
    with pytest.raises(TemplateError, match="no value for template variable 'run_id'"):
        render_template("{{ run_id }}", {"repo": "x"})


def test_validate_template_accepts_every_known_variable() -> None:
    validate_template(" ".join(f"{{{{ {name} | sanitize }}}}" for name in TEMPLATE_VARIABLES))
    with pytest.raises(TemplateError):
        validate_template("{{ workspace }}")


@given(st.text(), st.dictionaries(st.sampled_from(TEMPLATE_VARIABLES), st.text()))
def test_render_returns_text_or_raises_template_error(template: str, variables: dict) -> None:
    try:
        result = render_template(template, variables)
    except TemplateError:
        return
    assert isinstance(result, str)


@given(st.text().filter(lambda text: "{{" not in text and "{" not in text[-1:]))
def test_text_without_placeholders_renders_to_itself(text: str) -> None:
    assert render_template(text, VARIABLES) == text
