"""The parent's side of ``ws_clients``: several client processes driven as one group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any


class ClientGroup:
    """`subs` split over `processes` children; indices in reports are global. Given
    several URLs (service processes), child n connects to ``ws_url[n % len(ws_url)]``."""

    def __init__(
        self, procs: list[asyncio.subprocess.Process], offsets: list[int], size: int
    ) -> None:
        self.procs = procs
        self.offsets = offsets
        self.size = size  # sockets asked for, over all children
        self.ready = 0
        self.failed = 0
        self.early_updates = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @classmethod
    async def start(
        cls,
        ws_url: str | list[str],
        subs: list[list[str]],
        processes: int,
        work_dir: Path,
        label: str,
        timeout: float = 300.0,
        *,
        lean: bool = False,
    ) -> ClientGroup:
        urls = [ws_url] if isinstance(ws_url, str) else ws_url
        per = -(-len(subs) // processes)
        procs = []
        offsets = []
        for n in range(processes):
            chunk = subs[n * per : (n + 1) * per]
            if not chunk:
                break
            path = work_dir / f"{label}-subs-{n}.json"
            path.write_text(json.dumps(chunk))
            with (work_dir / f"{label}-clients-{n}.log").open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.bench.ws_clients",
                    urls[n % len(urls)],
                    str(path),
                    *(["--lean"] if lean else []),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                    limit=64 * 1024 * 1024,
                )
            procs.append(proc)
            offsets.append(n * per)
        group = cls(procs, offsets, len(subs))
        try:
            answers = await asyncio.wait_for(
                asyncio.gather(*(group._line(p) for p in procs)), timeout
            )
        except BaseException:
            await group.close()
            raise
        group.ready = sum(int(a["ready"]) for a in answers)
        group.failed = sum(int(a["failed"]) for a in answers)
        group.early_updates = sum(int(a.get("early_updates", 0)) for a in answers)
        return group

    @staticmethod
    async def _line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"ws client process {proc.pid} exited early")
        data: dict[str, Any] = json.loads(line)
        return data

    async def report(self) -> tuple[list[tuple[int, int, float]], int]:
        """Every update received since the last report: (global index, version, time)."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(b"report\n")
            await proc.stdin.drain()
        answers = await asyncio.gather(*(self._line(p) for p in self.procs))
        received: list[tuple[int, int, float]] = []
        closed = 0
        for offset, answer in zip(self.offsets, answers, strict=True):
            closed += int(answer["closed"])
            received += [(offset + int(i), int(v), float(t)) for i, v, t in answer["received"]]
        return received, closed

    async def close(self) -> None:
        for proc in self.procs:
            if proc.returncode is None and proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.write(b"exit\n")
                    await proc.stdin.drain()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
