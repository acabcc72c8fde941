import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentloop.core.completion import COMPLETION_TOKEN, Completion, completion_status
from agentloop.core.types import CompletionMode

TOKEN = COMPLETION_TOKEN
TRAILING = CompletionMode.TRAILING
EXACT = CompletionMode.EXACT


def test_token_is_the_spec_token() -> None:
    assert TOKEN == "<promise>COMPLETE</promise>"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (TOKEN, Completion.COMPLETE),
        (f"All done.\n{TOKEN}", Completion.COMPLETE),
        (f"All done.\n  {TOKEN}  \n\n  \n", Completion.COMPLETE),
        (f"{TOKEN}\nand then more", Completion.MALFORMED),
        (f"Done {TOKEN}", Completion.MALFORMED),
        (f"`{TOKEN}`", Completion.MALFORMED),
        (f"I will write {TOKEN} later.\nCompleted task. 3 tasks remain.", Completion.MALFORMED),
        ("Completed Add login. 2 tasks remain.", Completion.ABSENT),
        ("", Completion.ABSENT),
        ("<promise>complete</promise>", Completion.ABSENT),
        (f"line\r\n{TOKEN}\r\n", Completion.COMPLETE),
    ],
)
def test_trailing_mode(output: str, expected: Completion) -> None:
    assert completion_status(output, TRAILING) is expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (TOKEN, Completion.COMPLETE),
        (f"\n  {TOKEN}\n\n", Completion.COMPLETE),
        (f"All done.\n{TOKEN}", Completion.MALFORMED),
        (f"{TOKEN}{TOKEN}", Completion.MALFORMED),
        ("nothing", Completion.ABSENT),
    ],
)
def test_exact_mode(output: str, expected: Completion) -> None:
    assert completion_status(output, EXACT) is expected


token_text = st.lists(st.sampled_from([TOKEN, "x", " ", "\n", "\r\n", "done.", "\t"])).map("".join)


@given(st.one_of(st.text(), token_text), st.sampled_from(list(CompletionMode)))
def test_classification_is_total_and_consistent(output: str, mode: CompletionMode) -> None:
    status = completion_status(output, mode)
    assert status in set(Completion)
    assert (status is Completion.ABSENT) == (TOKEN not in output)


@given(st.one_of(st.text(), token_text))
def test_exact_complete_implies_trailing_complete(output: str) -> None:
    if completion_status(output, EXACT) is Completion.COMPLETE:
        assert completion_status(output, TRAILING) is Completion.COMPLETE
