"""The two commands' set-up: what `make run` installs, the machine packages script, the
demo's reset, and the licence."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from service.config import PROJECT_ROOT
from service.db.embedded import resolve_data_dir
from service.demo import reset_demo_data

SYSTEM_PACKAGES = PROJECT_ROOT / "scripts" / "system-packages"


def _make_dry_run(target: str) -> list[str]:
    """The commands `make TARGET` would run on a fresh clone (-B: as if nothing were built)."""
    out = subprocess.run(
        ["make", "-n", "-B", "--no-print-directory", target],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def test_make_run_installs_the_runtime_only() -> None:
    commands = _make_dry_run("run")
    pip = ".venv/bin/python -m pip --quiet --disable-pip-version-check install --no-compile"
    runtime = commands.index(f"{pip} -e .")
    assert not any("[dev]" in line for line in commands)
    # The venv's pip comes from the machine's pip, not ensurepip's bundled copy.
    assert "python3 -m venv --without-pip .venv" in commands
    # A machine that lacks PostgreSQL stops before any time goes into pip.
    assert (
        commands.index("scripts/system-packages run")
        < commands.index("python3 -m venv --without-pip .venv")
        < runtime
    )


def test_a_machine_without_pip_gets_the_venv_from_ensurepip(tmp_path: Path) -> None:
    python = tmp_path / "python-without-pip"
    python.write_text(f'#!/bin/sh\n[ "$1 $2" = "-m pip" ] && exit 1\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    venv = tmp_path / "venv"
    make = [
        "make",
        "--no-print-directory",
        f"PYTHON={python}",
        f"VENV={venv}",
        f"{venv}/bin/python",
    ]
    subprocess.run(make, cwd=PROJECT_ROOT, capture_output=True, check=True, timeout=300)
    version = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0
    assert int(version.stdout.split()[1].split(".")[0]) >= 24


def test_make_test_adds_the_dev_tools_and_lints_first() -> None:
    commands = _make_dry_run("test")
    assert any(line.endswith("install --no-compile -e '.[dev]'") for line in commands)
    assert "scripts/system-packages test" in commands
    ruff = next(i for i, line in enumerate(commands) if "ruff check" in line)
    pytest = next(i for i, line in enumerate(commands) if line.endswith("-m pytest"))
    assert ruff < pytest


def _fake_bin(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH with a recording apt-get and no node or chromium on it."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (bin_dir / "apt-get").chmod(0o755)
    (bin_dir / "env").symlink_to("/usr/bin/env")
    return bin_dir, log


def _system_packages(target: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SYSTEM_PACKAGES), target],
        env={"PATH": path, "PAYLIVE_CHROMIUM": "/nonexistent/chromium", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_system_packages_installs_only_what_is_missing(tmp_path: Path) -> None:
    bin_dir, log = _fake_bin(tmp_path)
    result = _system_packages("test", str(bin_dir))
    if os.geteuid() == 0:
        assert result.returncode == 0, result.stderr
        calls = log.read_text().splitlines()
        assert calls[0] == "update -qq"
        assert calls[1].startswith("install -y -qq ")
        # PostgreSQL and pgbouncer are also found by their fixed paths, whatever PATH says.
        wanted = ["chromium", "nodejs", "npm", "redis-server", "nats-server"]
        if not Path("/usr/sbin/pgbouncer").exists():
            wanted.append("pgbouncer")
        assert calls[1].split()[3:] in (wanted, ["postgresql", *wanted])
    else:  # no root, no password-less sudo on this PATH: the one command, and stop
        assert result.returncode == 1
        assert "apt-get install -y" in result.stderr
        assert "chromium nodejs npm redis-server nats-server" in result.stderr
        assert not log.exists()


def test_system_packages_for_run_needs_no_browser(tmp_path: Path) -> None:
    bin_dir, log = _fake_bin(tmp_path)
    result = _system_packages("run", f"{bin_dir}:{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    assert not log.exists()  # PostgreSQL is on this machine (the tests use it); nothing else


def test_make_bench_needs_the_broker_servers_and_no_browser(tmp_path: Path) -> None:
    assert "scripts/system-packages bench" in _make_dry_run("bench")
    bin_dir, log = _fake_bin(tmp_path)
    result = _system_packages("bench", str(bin_dir))
    if os.geteuid() == 0:
        assert result.returncode == 0, result.stderr
        packages = log.read_text().splitlines()[1].split()[3:]
        assert packages in (
            ["redis-server", "nats-server"],
            ["postgresql", "redis-server", "nats-server"],
        )
    else:
        assert result.returncode == 1
        assert "apt-get install -y redis-server nats-server" in result.stderr
        assert not log.exists()


def test_system_packages_rejects_an_unknown_target() -> None:
    result = _system_packages("deploy", "/usr/bin:/bin")
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_reset_deletes_the_demo_data(tmp_path: Path) -> None:
    data = tmp_path / "pgdata"
    (data / "base").mkdir(parents=True)
    (data / "PG_VERSION").write_text("17\n")
    (data / "postmaster.pid").write_text("999999999\n")  # stale: no such process
    done, message = reset_demo_data(data)
    assert done, message
    assert not data.exists()
    assert reset_demo_data(data) == (True, f"nothing to reset: {data} does not exist")


def test_reset_leaves_a_running_cluster_alone(tmp_path: Path) -> None:
    data = tmp_path / "pgdata"
    data.mkdir()
    (data / "PG_VERSION").write_text("17\n")
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n")  # a live process
    done, message = reset_demo_data(data)
    assert not done
    assert "running" in message
    assert (data / "PG_VERSION").exists()


def test_reset_refuses_a_folder_that_is_not_postgresql(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    done, message = reset_demo_data(tmp_path)
    assert not done
    assert "not a PostgreSQL data folder" in message
    assert (tmp_path / "notes.txt").exists()


def test_reset_command_deletes_the_folder_the_demo_uses(tmp_path: Path) -> None:
    configured = tmp_path / "pgdata"
    data = resolve_data_dir(configured)  # as root, maybe the postgres user's fallback
    data.mkdir()
    (data / "PG_VERSION").write_text("17\n")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "service", "reset-demo"],
            env={**os.environ, "EMBEDDED_PGDATA": str(configured)},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"paylive: deleted the demo's data: {data}\n"
        assert not data.exists()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def test_mit_license() -> None:
    text = (PROJECT_ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the paylive authors\n")
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == {"text": "MIT"}
