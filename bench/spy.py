"""
Sampling profiles of twisted-pypi during the benchmark's tests, with py-spy
(``pip install py-spy``), and a summary of py-spy's ``raw`` (collapsed
stacks) output.

``bench/run.py --py-spy DIR`` writes ``DIR/<test>.txt`` per test; summarise
one with::

    python bench/spy.py DIR/a-page.txt [--top 25]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def py_spy_binary() -> str | None:
    """:return: py-spy, from PATH or beside this interpreter, or ``None``."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


@contextmanager
def recording(pid: int, output: Path | None, rate: int = 200) -> Iterator[None]:
    """
    Record ``pid`` with py-spy while the block runs (nothing if ``output``
    is ``None`` or py-spy is missing).

    :param pid: The process to sample (not paused: ``--nonblocking``).
    :param output: The collapsed-stacks file to write.
    :param rate: Samples per second.
    """
    binary = py_spy_binary() if output is not None else None
    if output is None or binary is None:
        if output is not None:
            print("py-spy not installed: no profile", file=sys.stderr)
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    log = open(output.with_suffix(".log"), "wb")
    process = subprocess.Popen(
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(0.5)  # let it attach
        yield
    finally:
        try:
            os.killpg(process.pid, signal.SIGINT)  # py-spy writes on SIGINT
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        except ProcessLookupError:
            pass
        log.close()


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    """
    :param path: py-spy ``raw`` output: ``frame;frame;... count`` per line.
    :return: ``(frames, outermost first; count)`` per line.
    """
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def _short(frame: str) -> str:
    """``func (path/to/mod.py:12)`` as ``func (mod.py)``: merge a function's lines."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({os.path.basename(file)})"


def summary(path: Path, top: int = 20) -> str:
    """
    :param path: py-spy ``raw`` output.
    :param top: Lines per table.
    :return: The functions with the most samples on top of the stack (self)
        and anywhere on it (total), as text.
    """
    stacks = read_raw(path)
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        short = [_short(f) for f in frames]
        own[short[-1]] += count
        for name in set(short):
            inclusive[name] += count
    lines = [f"{path}: {total} samples", "", "self %  function"]
    lines += [f"{100 * n / total:6.1f}  {name}" for name, n in own.most_common(top)]
    lines += ["", "total %  function"]
    lines += [
        f"{100 * n / total:7.1f}  {name}" for name, n in inclusive.most_common(top)
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Print :func:`summary` of each file given."""
    parser = argparse.ArgumentParser(description="Summarise py-spy raw profiles.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    for path in args.files:
        sys.stdout.write(summary(path, args.top) + "\n")


if __name__ == "__main__":
    main()
