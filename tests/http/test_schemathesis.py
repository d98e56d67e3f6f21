"""schemathesis against /api/openapi.json: no 5xx from any generated input, and every
answer matching its documented status, content type and schema."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from service.app import create_app
from tests.support.emulator import running_app, running_emulator
from tests.support.settings import TEST_API_KEY, make_settings

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    assert found, "schemathesis (`st`) is a dev dependency: run make install"
    return found


async def test_generated_requests_meet_the_document(database_url: str, tmp_path: Path) -> None:
    async with running_emulator() as emulator:
        settings = make_settings(
            database_url,
            stripe_api_base=emulator.url,
            allowed_redirect_origins=["https://shop.example"],
        )
        async with running_app(create_app(settings)) as url:
            process = await asyncio.create_subprocess_exec(
                _st(),
                "run",
                f"{url}/api/openapi.json",
                "--checks",
                CHECKS,
                "--header",
                f"Authorization: Bearer {TEST_API_KEY}",
                "--max-examples",
                os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"),
                "--phases",
                "examples,coverage,fuzzing",
                "--exclude-path",
                "/ws",
                "--seed",
                "1",
                "--no-color",
                "--report-dir",
                str(tmp_path),
                "--request-timeout",
                "10",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            )
            output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
