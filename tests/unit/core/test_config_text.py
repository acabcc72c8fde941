from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.config_text import format_config_value, parse_config_text, read_config_file
from agentloop.core.errors import ConfigError


def values(text: str) -> dict[str, str]:
    return parse_config_text(text, "cfg").values


def test_key_value_lines_comments_and_blank_lines() -> None:
    text = "# comment\n\n  model = sonnet  \niterations=5\n   # indented comment\n"
    layer = parse_config_text(text, "cfg")
    assert layer.values == {"model": "sonnet", "iterations": "5"}
    assert layer.lines == {"model": 3, "iterations": 4}
    assert layer.where("iterations") == "cfg:4"
    assert layer.where("other") == "cfg"


def test_trailing_comments_after_unquoted_values() -> None:
    assert values("model=opus # the best\nx=a\t# tab comment") == {"model": "opus", "x": "a"}
    assert values("url=http://x/#frag") == {"url": "http://x/#frag"}
    assert values("empty= # nothing") == {"empty": ""}
    assert values("k=#not-a-comment") == {"k": "#not-a-comment"}


def test_quoted_values_are_verbatim() -> None:
    text = "a='  spaced  '\nb=\"x # not a comment\" # comment\nc='say \"hi\"'\nd=\"it's\"\ne=''"
    assert values(text) == {
        "a": "  spaced  ",
        "b": "x # not a comment",
        "c": 'say "hi"',
        "d": "it's",
        "e": "",
    }


def test_value_may_contain_equals_signs() -> None:
    assert values("verify_cmds=FOO=1 make test") == {"verify_cmds": "FOO=1 make test"}


def test_last_occurrence_wins() -> None:
    layer = parse_config_text("model=a\nmodel=b\n", "cfg")
    assert layer.values == {"model": "b"} and layer.lines == {"model": 2}


def test_bom_and_crlf() -> None:
    assert values("\ufeffmodel=opus\r\nx='y'\r\n") == {"model": "opus", "x": "y"}


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("model=opus\njust words", 2, "a 'key=value' line"),
        ("=value", 1, "a key made of letters"),
        ("bad key=1", 1, "a key made of letters"),
        ("\n\nmodel='unterminated", 3, "matching quotes"),
        ('model="a" trailing', 1, "matching quotes"),
    ],
)
def test_syntax_errors_name_source_and_line(text: str, line: int, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "my.cfg")
    assert f"my.cfg:{line}" in str(caught.value)
    assert expected in str(caught.value)
    assert caught.value.facts["source"] == f"my.cfg:{line}"


def test_read_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("model=haiku\n")
    layer = read_config_file(path)
    assert layer.values == {"model": "haiku"} and layer.where("model") == f"{path}:1"
    with pytest.raises(ConfigError, match="a readable file"):
        read_config_file(tmp_path / "missing")
    with pytest.raises(ConfigError, match="a readable file"):
        read_config_file(tmp_path)
    path.write_bytes(b"model=caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        read_config_file(path)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("", ""),
        ("a # b", '"a # b"'),
        (" pad", '" pad"'),
        ("'quoted'", "\"'quoted'\""),
        ('say "x" # y', "'say \"x\" # y'"),
        ("{{ a | b }}", "{{ a | b }}"),
    ],
)
def test_format_config_value(value: str, written: str) -> None:
    assert format_config_value(value) == written


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "\"x\" #1 'y' #2"])
def test_format_config_value_refuses_unwritable_values(value: str) -> None:
    with pytest.raises(ValueError):
        format_config_value(value)


@given(st.text())
def test_parser_raises_only_config_error(text: str) -> None:
    try:
        layer = parse_config_text(text, "fuzz")
    except ConfigError:
        return
    assert all(isinstance(v, str) for v in layer.values.values())


@given(st.text().filter(lambda v: "\n" not in v and "\r" not in v))
def test_formatted_values_read_back_unchanged(value: str) -> None:
    try:
        written = format_config_value(value)
    except ValueError:
        return
    assert values(f"key={written}") == {"key": value}
