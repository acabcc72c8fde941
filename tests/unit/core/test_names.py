import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentloop.core.errors import InvalidInput
from agentloop.core.names import (
    branch_slug,
    is_valid_branch_name,
    sanitize_dir_name,
    sanitize_run_name,
    spec_slug,
)


def git_accepts_branch(name: str) -> bool:
    done = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
    )
    # We refuse "@" on top of git's rules: it means HEAD in a revision.
    return done.returncode == 0 and name != "@"


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("specs/auth.md", "auth"),
        ("specs/Auth Flow.md", "auth-flow"),
        ("/abs/dir/My__Spec--v2.md", "my-spec-v2"),
        ("Café Menu.md", "cafe-menu"),
        ("--weird--.md", "weird"),
        ("specs/.md", "md"),
        ("specs/日本.md", "spec"),
        ("specs/!!!.md", "spec"),
        ("noext", "noext"),
    ],
)
def test_spec_slug(path: str, slug: str) -> None:
    assert spec_slug(path) == slug


@given(st.text())
def test_spec_slug_is_never_empty_and_only_slug_characters(text: str) -> None:
    slug = spec_slug(text + ".md")
    assert slug
    assert all(ch in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in slug)
    assert not slug.startswith("-") and not slug.endswith("-") and "--" not in slug


def test_sanitize_run_name_collapses_whitespace_and_removes_controls() -> None:
    assert sanitize_run_name("  Fix\tthe \n login\x00 bug  ") == "Fix the login bug"


def test_sanitize_run_name_folds_to_ascii() -> None:
    assert sanitize_run_name("Crème brûlée ☕") == "Creme brulee"


def test_sanitize_run_name_trims_to_64_characters_without_trailing_space() -> None:
    name = sanitize_run_name("a" * 63 + " b" + "c" * 10)
    assert name == "a" * 63
    assert len(sanitize_run_name("x" * 200)) == 64


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "日本語"])
def test_sanitize_run_name_rejects_text_with_nothing_printable(text: str) -> None:
    with pytest.raises(InvalidInput):
        sanitize_run_name(text)


@given(st.text())
def test_sanitize_run_name_is_ascii_printable_and_short_or_raises(text: str) -> None:
    try:
        name = sanitize_run_name(text)
    except InvalidInput:
        return
    assert 0 < len(name) <= 64
    assert name == name.strip()
    assert all(32 <= ord(ch) < 127 for ch in name)
    assert "  " not in name


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Fix Login Bug", "fix-login-bug"),
        ("feature/x..y", "feature-x-y"),
        ("", "run"),
        ("@{", "run"),
        ("a.lock", "a-lock"),
    ],
)
def test_branch_slug(name: str, slug: str) -> None:
    assert branch_slug(name) == slug


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=80))
def test_branch_slug_passes_git_check_ref_format(name: str) -> None:
    slug = branch_slug(name)
    assert len(slug) <= 64
    assert git_accepts_branch(f"run/{slug}")


@pytest.mark.parametrize(
    "name",
    [
        "main",
        "run/x",
        "feature/a-b_c.d",
        "",
        "-x",
        "a..b",
        "a b",
        "a~b",
        "a^b",
        "a:b",
        "a?b",
        "a*b",
        "a[b",
        "a\\b",
        "/a",
        "a/",
        "a//b",
        "a.",
        "a/.b",
        "a.lock",
        "a/b.lock/c",
        "@",
        "a@{b",
        "a\x7fb",
        "x/@",
    ],
)
def test_is_valid_branch_name_agrees_with_git(name: str) -> None:
    assert is_valid_branch_name(name) == git_accepts_branch(name)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab./-@{~:^ *?[\\"), max_size=8))
def test_is_valid_branch_name_agrees_with_git_on_tricky_text(name: str) -> None:
    assert is_valid_branch_name(name) == git_accepts_branch(name)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("run/fix-bug", "run-fix-bug"),
        ("a b:c", "a-b-c"),
        ("..", "_"),
        (".hidden/x", "hidden-x"),
        ("", "_"),
        ("ok.name_1", "ok.name_1"),
    ],
)
def test_sanitize_dir_name(value: str, safe: str) -> None:
    assert sanitize_dir_name(value) == safe


@given(st.text())
def test_sanitize_dir_name_is_one_safe_component(value: str) -> None:
    safe = sanitize_dir_name(value)
    assert safe and safe not in (".", "..") and not safe.startswith(".")
    assert "/" not in safe and "\x00" not in safe
