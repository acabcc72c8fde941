"""Writing, mirroring and indexing run files; tails; atomic JSON; clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agentloop.artifacts import ArtifactWriter, RunDir, layout, sha256_of, tail_lines
from agentloop.core.errors import ArtifactError, PathEscapeError
from agentloop.core.models import Run
from agentloop.core.types import ArtifactLocation, ArtifactMode
from agentloop.store import Store


@pytest.fixture
def run(make_run) -> Run:
    return make_run()


def _writer(
    tmp_path: Path, run: Run, store: Store | None, mode: ArtifactMode = ArtifactMode.MIRROR
) -> ArtifactWriter:
    run_dir = RunDir.for_run(
        run.id, workspace_root=tmp_path / "ws", global_log_dir=tmp_path / "global", mode=mode
    )
    writer = ArtifactWriter(run_dir, store)
    writer.ensure_dirs()
    return writer


def test_small_files_are_written_to_both_locations_and_indexed(
    tmp_path: Path, store: Store, run: Run
) -> None:
    writer = _writer(tmp_path, run, store)
    indexed = writer.write_text(layout.PROMPT, "do the next task\n")
    digest = hashlib.sha256(b"do the next task\n").hexdigest()
    assert {(a.location, a.kind, a.checksum, a.size) for a in indexed} == {
        (ArtifactLocation.WORKSPACE, "prompt", digest, 17),
        (ArtifactLocation.GLOBAL, "prompt", digest, 17),
    }
    for location, path in writer.run_dir.paths(layout.PROMPT):
        assert path.read_text() == "do the next task\n"
        assert {a.path for a in indexed if a.location == location} == {str(path)}

    again = writer.write_text(layout.PROMPT, "changed")
    assert {a.id for a in again} == {a.id for a in indexed}  # re-indexing updates
    assert {a.size for a in store.list_artifacts(run.id)} == {7}


def test_streamed_log_is_mirrored_and_indexed_on_close(
    tmp_path: Path, store: Store, run: Run
) -> None:
    writer = _writer(tmp_path, run, store)
    name = layout.iter_log(1)
    with writer.open_log(name) as log:
        for index in range(500):
            log.write_line(f"line {index}")
        assert not writer.run_dir.safe_path(name, ArtifactLocation.GLOBAL).exists()
        assert store.list_artifacts(run.id) == []
    assert (log.lines_written, log.bytes_written) == (
        500,
        sum(len(f"line {i}\n") for i in range(500)),
    )
    workspace = writer.run_dir.safe_path(name)
    mirrored = writer.run_dir.safe_path(name, ArtifactLocation.GLOBAL)
    assert workspace.read_bytes() == mirrored.read_bytes()
    checksum, size = sha256_of(workspace)
    assert {(a.location, a.checksum, a.size, a.kind) for a in store.list_artifacts(run.id)} == {
        (ArtifactLocation.WORKSPACE, checksum, size, "iteration_log"),
        (ArtifactLocation.GLOBAL, checksum, size, "iteration_log"),
    }
    with pytest.raises(ArtifactError, match="closed"):
        log.write("late")


def test_tail_keeps_the_last_200_lines(tmp_path: Path, store: Store, run: Run) -> None:
    writer = _writer(tmp_path, run, store)
    lines = [f"{index} " + "x" * (index % 300) for index in range(5000)]
    writer.write_text(layout.iter_log(2), "\n".join(lines) + "\n")
    writer.write_tail(layout.iter_log(2), layout.iter_tail(2))
    for _, path in writer.run_dir.paths(layout.iter_tail(2)):
        assert path.read_text().splitlines() == lines[-200:]
    assert tail_lines(writer.run_dir.safe_path(layout.iter_log(2)), 3) == lines[-3:]
    short = writer.run_dir.safe_path("short.log")
    short.write_text("a\nb")
    assert tail_lines(short, 200) == ["a", "b"]
    assert tail_lines(short, 0) == []


def test_json_is_written_atomically(tmp_path: Path, store: Store, run: Run) -> None:
    writer = _writer(tmp_path, run, store)
    writer.write_json(layout.SUMMARY, {"run_id": run.id, "note": "ünïcode"})
    for _, path in writer.run_dir.paths(layout.SUMMARY):
        assert json.loads(path.read_text()) == {"run_id": run.id, "note": "ünïcode"}
        leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []


def test_append_writes_every_location_with_a_header_once(
    tmp_path: Path, store: Store, run: Run
) -> None:
    writer = _writer(tmp_path, run, store)
    writer.append_text(layout.RUNNER_NOTES, "first\n", header="# notes\n")
    writer.append_text(layout.RUNNER_NOTES, "second\n", header="# notes\n", index=True)
    for _, path in writer.run_dir.paths(layout.RUNNER_NOTES):
        assert path.read_text() == "# notes\nfirst\nsecond\n"
    assert writer.read_text(layout.RUNNER_NOTES).endswith("second\n")
    assert writer.read_text("missing.txt") == ""


def test_single_location_mode_writes_once(tmp_path: Path, store: Store, run: Run) -> None:
    writer = _writer(tmp_path, run, store, ArtifactMode.GLOBAL)
    indexed = writer.write_text(layout.PROMPT, "p")
    assert [a.location for a in indexed] == [ArtifactLocation.GLOBAL]
    assert not (tmp_path / "ws").exists()


def test_without_a_store_nothing_is_indexed(tmp_path: Path, run: Run) -> None:
    writer = _writer(tmp_path, run, None)
    assert writer.write_text(layout.PROMPT, "p") == []
    assert writer.run_dir.safe_path(layout.PROMPT).read_text() == "p"


def test_unwritable_run_dir_is_an_artifact_error(tmp_path: Path, run: Run) -> None:
    blocker = tmp_path / "ws"
    blocker.write_text("a file where the workspace's log dir should be")
    run_dir = RunDir.for_run(run.id, workspace_root=blocker, global_log_dir=tmp_path / "g")
    writer = ArtifactWriter(run_dir, None)
    with pytest.raises(ArtifactError) as caught:
        writer.ensure_dirs()
    assert str(blocker) in caught.value.path and caught.value.reason
    with pytest.raises(ArtifactError):
        writer.write_text(layout.PROMPT, "x")
    with pytest.raises(ArtifactError):
        writer.open_log(layout.iter_log(1))


def test_escaping_names_are_refused_before_any_write(tmp_path: Path, run: Run) -> None:
    writer = _writer(tmp_path, run, None)
    with pytest.raises(PathEscapeError):
        writer.write_text("../../outside.txt", "x")
    assert not (tmp_path / "ws" / "logs" / "outside.txt").exists()
