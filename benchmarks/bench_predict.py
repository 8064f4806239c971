"""How fast ``python -m minicnn predict`` answers: one photo from a cold start, and a folder
of 1,000 photos against ``evaluate`` on the same photos.

    .venv/bin/python benchmarks/bench_predict.py [--data ../shared/data/ahe64] [--checkpoint CKPT]
                                                 [--backend numba] [--rounds 5]

Cold start: ``python -m minicnn predict --checkpoint CKPT PHOTO`` as a fresh
process (import, load the checkpoint, decode, forward with flip averaging,
print), timed from outside, for the numba and the numpy backend. One
unmeasured run first fills Numba's on-disk kernel cache, so the numba figure is
the one "with a warm Numba cache". Target: under 2 s. The process's CPU time
(user + sys) is shown beside its wall time: other work on a shared machine
stretches the wall time, not the CPU time, and with the files in the OS cache
an idle machine runs the process in at most its CPU time.

Folder: the same 1,000 photos (the first 100 of each class, as class folders)
through ``predict FOLDER --json`` and through ``evaluate --data FOLDER --json``,
each a fresh process, alternating, on --backend. evaluate starts from an empty
dataset cache, so both decode every file (and evaluate also writes its cache);
evaluate with its cache already filled is shown as well, for reference. Target:
predict at least at evaluate's rate, i.e. evaluate's time / predict's time >= 1
(the median of the per-round ratios).

Without --checkpoint, a random-weight default AHE network (width 16, as
examples/train_ahe.py trains it, flip averaging on) is saved with the
Trainer's meta keys: the time does not depend on the weights.
"""
import common  # noqa: F401  (first: thread settings before numpy loads)

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
PHOTOS_PER_CLASS = 100
COLD_START_TARGET_SECONDS = 2.0


def run_seconds(arguments, env):
    """Wall-clock seconds of one ``python -m minicnn ...`` process (which must succeed)."""
    return run_process(arguments, env)[0]


def run_process(arguments, env):
    """(wall-clock seconds, CPU seconds: user + sys) of one ``python -m minicnn ...`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "minicnn", *arguments], capture_output=True,
                            text=True, cwd=REPO_ROOT, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"python -m minicnn {' '.join(arguments)} failed:\n{result.stderr}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def copy_photos(data_root, folder):
    """The first PHOTOS_PER_CLASS photos of each class of data_root/train -> folder/<class>/."""
    classes = sorted(path for path in (Path(data_root) / "train").iterdir() if path.is_dir())
    for class_dir in classes:
        (folder / class_dir.name).mkdir(parents=True)
        for photo in sorted(class_dir.iterdir())[:PHOTOS_PER_CLASS]:
            shutil.copy(photo, folder / class_dir.name / photo.name)
    return [class_dir.name for class_dir in classes]


def random_checkpoint(path, class_names):
    """A random-weight default AHE network, saved with the Trainer's meta keys."""
    from minicnn.models import ahe_network
    model = ahe_network(len(class_names), width=16, dropout=0.2, backend="numpy", seed=0)
    model.save(path, meta={"kind": "minicnn-classifier", "class_names": class_names,
                           "mean": [0.44, 0.42, 0.39], "std": [0.25, 0.25, 0.28],
                           "flip_average": True})
    return path


def summary_line(label, times, images=1):
    median, low, high = common.summary(times)
    rate = f", {images / median:7.1f} images/s" if images > 1 else ""
    return f"  {label:<44}{median:7.2f} s  [{low:5.2f} - {high:5.2f}]{rate}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("AHE64_DIR") or
                        str(REPO_ROOT.parent / "shared" / "data" / "ahe64"),
                        help="dataset root holding train/ (default: $AHE64_DIR, else "
                             "../shared/data/ahe64)")
    parser.add_argument("--checkpoint", help="a Trainer checkpoint (default: random weights)")
    parser.add_argument("--backend", default="numba", choices=["numpy", "numba"],
                        help="backend of the folder comparison")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not (Path(args.data) / "train").is_dir():
        raise SystemExit(f"no train/ folder in {args.data}: pass --data DIR")

    work = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    try:
        folder = work / "photos"
        class_names = copy_photos(args.data, folder)
        checkpoint = args.checkpoint or str(random_checkpoint(work / "random.npz", class_names))
        photo = str(next(iter(sorted((folder / class_names[0]).iterdir()))))
        count = sum(1 for _ in folder.rglob("*") if _.is_file())
        env = {**os.environ, "MINICNN_CACHE_DIR": str(work / "warm-cache")}
        load_at_start = common.load_average()

        cold, cold_cpu = {}, {}
        for backend in ("numba", "numpy"):
            predict_one = ["predict", "--checkpoint", checkpoint, photo, "--backend", backend]
            run_seconds(predict_one, env)   # fills Numba's kernel cache (and the OS file cache)
            runs = [run_process(predict_one, env) for _ in range(args.rounds)]
            cold[backend] = [wall for wall, _ in runs]
            cold_cpu[backend] = [cpu for _, cpu in runs]

        predict_folder = ["predict", "--checkpoint", checkpoint, str(folder), "--json",
                          "--backend", args.backend]
        evaluate_folder = ["evaluate", "--checkpoint", checkpoint, "--data", str(folder),
                           "--json", "--backend", args.backend]
        run_seconds(evaluate_folder, env)   # fills the warm cache
        times = {"predict": [], "evaluate_cold": [], "evaluate_warm": []}
        for round_index in range(args.rounds):
            fresh_cache = {**env, "MINICNN_CACHE_DIR": str(work / f"cold-cache-{round_index}")}
            runs = [("predict", predict_folder, env),
                    ("evaluate_cold", evaluate_folder, fresh_cache),
                    ("evaluate_warm", evaluate_folder, env)]
            for name, arguments, run_env in (runs if round_index % 2 else runs[::-1]):
                times[name].append(run_seconds(arguments, run_env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"# {common.machine_line()}")
    weights = args.checkpoint or "random weights, AHE width 16"
    print(f"# {args.rounds} rounds, load average {load_at_start:.2f} at start, "
          f"{common.load_average():.2f} at end; checkpoint: {weights}")
    print("one photo, cold start (a fresh process: import, load, decode, forward, print):")
    for backend, seconds in cold.items():
        print(summary_line(f"predict, {backend} backend, wall", seconds))
        print(summary_line(f"predict, {backend} backend, CPU (user + sys)", cold_cpu[backend]))
    for label, figures in (("wall", cold), ("CPU", cold_cpu)):
        met = statistics.median(figures["numba"]) < COLD_START_TARGET_SECONDS
        print(f"  numba with a warm kernel cache, median {label} time: "
              f"{'meets' if met else 'MISSES'} the {COLD_START_TARGET_SECONDS:.0f} s target")
    print(f"a folder of {count} photos, {args.backend} backend (fresh processes, alternating):")
    print(summary_line("predict FOLDER --json", times["predict"], count))
    print(summary_line("evaluate --data FOLDER --json, empty cache", times["evaluate_cold"], count))
    print(summary_line("evaluate --data FOLDER --json, cache filled", times["evaluate_warm"], count))
    ratio = statistics.median(cold_time / predict_time for cold_time, predict_time
                              in zip(times["evaluate_cold"], times["predict"]))
    print(f"  predict's rate / evaluate's rate (empty cache): {ratio:.2f} "
          f"(median of per-round ratios; target >= 1: {'met' if ratio >= 1 else 'MISSED'})")


if __name__ == "__main__":
    main()
