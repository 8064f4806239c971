"""What the decoded-image cache's key costs: a stat of every file against a hash of every file.

    .venv/bin/python benchmarks/bench_cache_key.py [--data ../shared/data/ahe64] [--rounds 5]

The key (minicnn/data/cache.py) is checked on every load, so its cost is paid
each time a command starts. Three figures on the train/ split of --data, each
the median of --rounds runs, alternating, after one unmeasured run of each
(so the OS page cache holds the files, as it does on the second load of a day):

    stat key       listing the class folders and stat'ing every file: what the key
                   reads (size, mtime, ctime, inode)
    content hash   the same listing, then every file read and hashed (SHA-1): what a
                   key made of the files' bytes would read
    cache hit      a whole ``load_dataset`` that finds its cache file up to date (the
                   stat key included), for scale
"""
import common  # noqa: F401  (first: thread settings before numpy loads)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from minicnn.data import find_data_dir, load_dataset  # noqa: E402
from minicnn.data.sources import FolderSource  # noqa: E402


def stat_key(split):
    return FolderSource(split)


def content_hash(split):
    source = FolderSource(split)
    digest = hashlib.sha1()
    for file in source.files:
        digest.update(source.read(file))
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="dataset root (default: as train_ahe.py)")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    root = find_data_dir(arguments.data)
    split = Path(root) / "train"
    with tempfile.TemporaryDirectory() as cache_dir:
        def cache_hit(_):
            assert load_dataset(root, cache_dir=cache_dir, verbose=False).report.cache == "hit"

        load_dataset(root, cache_dir=cache_dir, verbose=False)   # a miss: writes the cache
        works = {"stat key": stat_key, "content hash": content_hash, "cache hit": cache_hit}
        times = {name: [] for name in works}
        for work in works.values():
            work(split)   # unmeasured: fills the page cache
        for _ in range(arguments.rounds):
            for name, work in works.items():
                started = time.perf_counter()
                work(split)
                times[name].append(time.perf_counter() - started)
    files = len(FolderSource(split).files)
    print(f"{files:,} files in {split}, median of {arguments.rounds} rounds:")
    for name, seconds in times.items():
        print(f"  {name:<13} {statistics.median(seconds):.3f} s")


if __name__ == "__main__":
    main()
