"""Crash-test helper: writes to an LMDB store forever, printing each acknowledged key.

Run as ``python crash_writer.py DATA_DIR START``; the parent SIGKILLs it at a random
moment and checks every printed key survived.
"""

import asyncio
import sys

from navarch_store_lmdb import LmdbStore


async def main(data_dir: str, start: int) -> None:
    store = LmdbStore.open(data_dir)
    next_id = start

    async def writer() -> None:
        nonlocal next_id
        while True:
            key = b"/crash/%09d" % next_id
            next_id += 1
            await store.create(key, key * 8)
            sys.stdout.write(key.decode() + "\n")
            sys.stdout.flush()

    await asyncio.gather(*(writer() for _ in range(16)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
