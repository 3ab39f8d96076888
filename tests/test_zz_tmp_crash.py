import asyncio, os, time
import pytest
from tests.crash_stages import STAGES, run_once

NAMES = os.environ.get("STAGES", "").split(",")


async def test_stages(dev_env, settings, tmp_path):
    stages = [s for s in STAGES if s.name in NAMES] if NAMES != [""] else list(STAGES)

    async def one(i, stage):
        t = time.monotonic()
        out = await run_once(dev_env.client, settings, stage, tmp_path / f"{i}.log")
        return stage.name, out, round(time.monotonic() - t, 1)

    res = await asyncio.gather(*(one(i, s) for i, s in enumerate(stages)), return_exceptions=True)
    for r in res:
        print(r)
    os.system(f"cp -r {tmp_path} /tmp/crashlogs")
