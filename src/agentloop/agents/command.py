"""``agent=command``: any executable, given by ``agent_cmd``, as an agent.

``extra['agent_cmd']`` is a shell command string run through ``/bin/sh -c`` in the
worktree, with the prompt on stdin. Its stdout and stderr lines are the output; the whole
stdout is the answer (``final_text``). A nonzero exit is a crash; there is no protocol, so
no usage limit or permanent failure is ever inferred from what it prints.
"""

from __future__ import annotations

from agentloop.agents._cli import Transcript, run_cli
from agentloop.agents.base import AgentRequest, AgentResult, AgentSink, Failure
from agentloop.agents.process import ProcessResult

__all__ = ["CommandAgent"]


class CommandAgent:
    """The ``command`` adapter."""

    name = "command"

    def __init__(self, command: str | None = None) -> None:
        self.command = command

    def run(self, request: AgentRequest, sink: AgentSink) -> AgentResult:
        command = request.extra.get("agent_cmd") or self.command
        if not command:
            return AgentResult(
                exit_code=2,
                is_error=True,
                failure=Failure.PERMANENT,
                message="agent=command needs agent_cmd (the command to run)",
                agent=self.name,
            )
        transcript = _CommandTranscript(sink)
        return run_cli(transcript, ["/bin/sh", "-c", command], request, stdin_text=request.prompt)


class _CommandTranscript(Transcript):
    agent = "command"

    def __init__(self, sink: AgentSink) -> None:
        super().__init__(sink)
        self.completed = True
        self._stdout: list[str] = []

    def on_stdout(self, line: str) -> None:
        self._stdout.append(line)
        self.sink.output(line)

    def finish(self, proc: ProcessResult) -> None:
        self.final_text = "\n".join(self._stdout)
