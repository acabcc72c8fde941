"""Notes from the user to a run's agent (SPEC 18): ``POST|GET /runs/{id}/notes``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from agentloop.api.deps import runtime_of
from agentloop.api.schemas import ErrorBody
from agentloop.core.errors import InvalidInput
from agentloop.core.models import Note
from agentloop.store.notes import Notes

router = APIRouter(tags=["notes"])

MAX_NOTE_CHARS = 20_000
_ERRORS: dict[int | str, dict[str, type[ErrorBody]]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409)
}


class NewNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    file: str | None = None
    line: int | None = None
    source: Literal["cli", "web", "api", "mcp"] = "api"


class NoteAnswer(BaseModel):
    note: Note


class NoteList(BaseModel):
    notes: list[Note]


def check_note(text: str, file: str | None, line: int | None) -> None:
    """400 for an empty or oversized note, or a line without a file."""
    if not text.strip():
        raise InvalidInput("a note needs text")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note is at most {MAX_NOTE_CHARS} characters ({len(text)} given)")
    if line is not None and (not file or line < 1):
        raise InvalidInput("line needs a file, and counts from 1")
    if file is not None and (not file.strip() or "\0" in file):
        raise InvalidInput("file must be a path of the run's repository")


@router.post("/runs/{run_id}/notes", status_code=201, response_model=NoteAnswer, responses=_ERRORS)
async def add_note(run_id: str, body: NewNote, request: Request) -> NoteAnswer:
    """Add a note for the run's next agent step (any status but COMPLETED or CANCELED)."""
    check_note(body.text, body.file, body.line)
    store = runtime_of(request).store
    run = await run_in_threadpool(store.resolve_run, run_id)
    note = await run_in_threadpool(
        Notes(store).add, run.id, body.text, file=body.file, line=body.line, source=body.source
    )
    return NoteAnswer(note=note)


@router.get("/runs/{run_id}/notes", response_model=NoteList, responses=_ERRORS)
async def list_notes(run_id: str, request: Request) -> NoteList:
    """Every note of the run, oldest first, each with the step it was delivered to."""
    store = runtime_of(request).store
    run = await run_in_threadpool(store.resolve_run, run_id)
    return NoteList(notes=await run_in_threadpool(Notes(store).of_run, run.id))
