"""A stand-in for the session host in tests: answers commands from a script, without neonize.

    python fake_host.py '<json script>'      (or @path: the script in a file)

The script maps a command name (or "start", run at once) to a list of steps, run in order:
an event object is written as a JSON line ("$ref" and "$session" in a value become the
command's); {"raw": text} writes text to stdout as is; {"stderr": text} writes to stderr;
{"write_path": text} writes text into the file the command's args name (a media download);
{"exit": code} ends the process. A command may instead map to {"each": [steps, steps, …]}: its
first arrival runs the first list, the next the second, and so on. After the steps of "start"
(default: a ready event) it reads commands until stdin closes, then exits 0, as the real host
does.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def fill(value: Any, cmd: dict[str, Any]) -> Any:
    if value == "$ref":
        return cmd.get("ref")
    if value == "$session":
        return cmd.get("session")
    if isinstance(value, dict):
        return {k: fill(v, cmd) for k, v in value.items()}
    return value


def run(steps: list[dict[str, Any]], cmd: dict[str, Any]) -> None:
    for step in steps:
        if "raw" in step and "event" not in step:  # an event may have a `raw` field of its own
            sys.stdout.write(step["raw"])
        elif "write_path" in step:
            with open(cmd["args"]["path"], "w") as file:
                file.write(step["write_path"])
        elif "stderr" in step:
            sys.stderr.write(step["stderr"])
            sys.stderr.flush()
        elif "exit" in step:
            sys.stdout.flush()
            os._exit(step["exit"])
        else:
            sys.stdout.write(json.dumps(fill(step, cmd)) + "\n")
        sys.stdout.flush()


def main() -> None:
    raw = sys.argv[1] if len(sys.argv) > 1 else "{}"
    if raw.startswith("@"):  # a script too long for a command line, in a file
        with open(raw[1:]) as f:
            raw = f.read()
    script = json.loads(raw)
    run(script.get("start", [{"event": "ready", "pid": os.getpid()}]), {})
    seen: dict[str, int] = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        steps = script.get(cmd["cmd"], [])
        if isinstance(steps, dict):  # {"each": [...]}: the n-th arrival runs the n-th list
            n = seen[cmd["cmd"]] = seen.get(cmd["cmd"], -1) + 1
            steps = steps["each"][n] if n < len(steps["each"]) else []
        run(steps, cmd)
    sys.exit(0)


if __name__ == "__main__":
    main()
