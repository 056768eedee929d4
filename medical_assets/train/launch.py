"""`python -m medical_assets.train.launch LOG -- COMMAND...`: run COMMAND, pass its stderr
through and keep a copy in LOG, and exit with its status (128 + signal when it was killed).

Dagster's `PipesSubprocessClient` forwards the child's output to the run's logs but
keeps none of it; with this copy a crash fails the asset with the end of its traceback.
SIGINT and SIGTERM (a cancelled run) are passed on to COMMAND.
"""

import signal
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m medical_assets.train.launch LOG -- COMMAND...", file=sys.stderr)
        return 2
    log, command = Path(argv[0]), argv[2:]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as copy:
        child = subprocess.Popen(command, stderr=subprocess.PIPE)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda received, _frame: child.send_signal(received))
        for line in iter(child.stderr.readline, b""):
            sys.stderr.buffer.write(line)
            sys.stderr.buffer.flush()
            copy.write(line)
            copy.flush()
        code = child.wait()
        if code < 0:
            note = f"{command[0]} was killed by signal {signal.Signals(-code).name}\n".encode()
            copy.write(note)
            sys.stderr.buffer.write(note)
            return 128 - code
    return code


def stderr_tail(log: Path, lines: int = 40) -> str:
    """The last `lines` lines of a launch log ('' when there is none)."""
    if not log.exists():
        return ""
    text = log.read_bytes()[-64_000:].decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
