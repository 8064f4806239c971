"""minicnn against PyTorch's CPU build, side by side in one run, on one network.

    .venv/bin/python benchmarks/bench_train_step.py [--network ahe-resnet|ahe|reference]
                     [--backend numba] [--batch 64] [--rounds 15] [--no-memory] [--no-cold-start]
    python benchmarks/bench_train_step.py --backend cupy --batch 256    (on a GPU)

1. Builds the network (see common.py; default ahe-resnet, the one
   examples/train_ahe.py trains) in minicnn and, when torch can be imported,
   in PyTorch with minicnn.interop.to_torch(model): the same layers and weights.
2. Checks before timing anything: both engines in float64, training mode,
   one batch, fixed dropout masks; the logits, the loss, the input gradient
   and every parameter's gradient must agree (AGREEMENT_TOLERANCE, relative).
   The script stops, naming what differs, if they do not.
3. Training: one step is forward + backward + SGD (momentum 0.9) update. After
   warm-up the two engines alternate, one step each per round, so a busy
   machine slows both alike; it prints the median, min and max step time,
   images per second and the ratio minicnn / PyTorch.
4. Inference (eval mode, forward only): the same, alternating.
5. Memory: each engine in a fresh process; the peak resident set size (RSS)
   over a few training steps, and how far the steps raised it.
6. Cold start: ``import minicnn`` + building the network + the first training
   step, in a fresh process, with an empty Numba cache and with a warm one.

torch is only needed by this script (``pip install torch``); without it the
script times minicnn alone. With ``--backend cupy`` both engines run on the GPU
(PyTorch CUDA eager, cuDNN as PyTorch configures it by default), every timed
call ends by waiting for the GPU, and the memory figures are the device
memory pools instead of the process RSS; the cold start is not measured.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import common
import numpy as np


# --- PyTorch twin -------------------------------------------------------------------
def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_twin(model):
    """The same network in PyTorch, built by minicnn.interop.to_torch from ``model`` (same
    weights, dtype and mode): (net, loss function, SGD optimizer)."""
    import torch
    from torch import nn

    from minicnn.interop import to_torch
    torch.set_num_threads(common.THREADS)
    net = to_torch(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=common.LEARNING_RATE,
                                momentum=common.MOMENTUM)
    return net, nn.CrossEntropyLoss(), optimizer


def torch_train_step(net, loss_function, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = loss_function(net(images), labels)
    loss.backward()
    optimizer.step()
    return loss


# --- step 2: the engines agree -----------------------------------------------------
# float64 on both sides: what is left is summation order, some 1e-13
AGREEMENT_TOLERANCE = 1e-8


def torch_parameter_name(key):
    """minicnn's parameter key ("5.body.0.W") -> torch's ("5.body.0.weight")."""
    path, name = key.rsplit(".", 1)
    return f"{path}.{dict(W='weight', b='bias', gamma='weight', beta='bias')[name]}"


def minicnn_with_fixed_dropout(model, images, labels):
    """Forward in training mode with every Dropout's mask drawn here and fixed:
    -> (loss, logits, {top-level index: keep / (1 - p)})."""
    from minicnn import Dropout
    rng = np.random.default_rng(1)
    scales, x = {}, images
    for index, layer in enumerate(model.body):
        if isinstance(layer, Dropout):
            keep = rng.random(x.shape) >= layer.p
            layer.fixed_mask = model.backend.to_device(keep)
            scales[index] = keep / (1 - layer.p)
        x = layer.forward(x)
    return model.loss_layer.forward(x, labels), x, scales


def check_engines_agree(network, backend, images, labels):
    """The same network in both engines, in float64, training mode, one batch, fixed dropout
    masks: the logits, the loss, dx and every parameter's gradient agree within
    AGREEMENT_TOLERANCE (relative, in norm), or the script stops naming what differs."""
    import torch
    from torch import nn

    from minicnn.backend import get_backend

    class FixedMask(nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.scale = torch.from_numpy(scale)

        def forward(self, x):
            return x * self.scale

    model, _ = common.minicnn_network(network, get_backend(backend, dtype="float64"))
    net, loss_function, _ = torch_twin(model)
    to_device, to_host = model.backend.to_device, model.backend.to_host
    images64 = images.astype(np.float64)
    loss, logits, scales = minicnn_with_fixed_dropout(model, to_device(images64),
                                                      to_device(labels))
    dx = model.backward()
    for index, scale in scales.items():
        net[index] = FixedMask(scale)
    torch_images = torch.from_numpy(images64).requires_grad_(True)
    torch_logits = net(torch_images)
    torch_loss = loss_function(torch_logits, torch.from_numpy(labels))
    torch_loss.backward()

    torch_grads = {name: parameter.grad.numpy() for name, parameter in net.named_parameters()}
    pairs = [("logits", to_host(logits), torch_logits.detach().numpy()),
             ("loss", np.array(float(to_host(loss))), np.array(torch_loss.item())),
             ("dx", to_host(dx), torch_images.grad.numpy())]
    for key, _, grad in model.params_and_grads():
        theirs = torch_grads[torch_parameter_name(key)]
        mine = to_host(grad)
        pairs.append((f"d{key}", mine.T if mine.ndim == 2 else mine, theirs))

    def difference(mine, theirs):
        return float(np.linalg.norm(mine - theirs) / max(np.linalg.norm(theirs), 1e-300))

    differences = {name: difference(mine, theirs) for name, mine, theirs in pairs}
    worst = max(differences, key=differences.get)
    print(f"# check ({network}, float64, training mode): logits, loss, dx and "
          f"{len(pairs) - 3} parameter gradients of minicnn and PyTorch agree to "
          f"{differences[worst]:.1e} at most ({worst})")
    failed = {name: value for name, value in differences.items() if value > AGREEMENT_TOLERANCE}
    if failed:
        sys.exit(f"minicnn and PyTorch compute different things on the {network} network, so "
                 f"nothing is timed: " + "; ".join(
                     f"{name} differs by {value:.1e} (relative, in norm; allowed "
                     f"{AGREEMENT_TOLERANCE:.0e})" for name, value in failed.items()))


# --- steps 3 and 4: alternating timings ---------------------------------------------
def synchronized(run, synchronize):
    """``run`` followed by waiting for the device: a GPU call returns before its work is done."""
    def timed():
        run()
        synchronize()
    return timed


def report_gpu_memory(model, with_torch):
    """Device memory after the timings: CuPy's pool against PyTorch's caching allocator."""
    stats = model.backend.memory_stats()
    print(f"\ndevice memory after the timings: minicnn pool in use "
          f"{stats['used_bytes'] / 2**20:.0f} MiB, held {stats['total_bytes'] / 2**20:.0f} MiB")
    if with_torch:
        import torch
        print(f"  PyTorch peak allocated {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB, "
              f"reserved {torch.cuda.memory_reserved() / 2**20:.0f} MiB")


def alternate(engines, rounds, warmup):
    """{name: [seconds per call]}: every engine once per round, in turn, after warm-up."""
    times = {name: [] for name in engines}
    for round_index in range(warmup + rounds):
        for name, run in engines.items():
            elapsed = common.seconds(run)
            if round_index >= warmup:
                times[name].append(elapsed)
    return times


def report(title, times, batch):
    print(f"\n{title} (batch {batch}; median [min - max] of {len(next(iter(times.values())))}"
          f" alternating rounds)")
    medians = {}
    for name, values in times.items():
        median, low, high = common.summary(values)
        medians[name] = median
        print(f"  {name:<18}{median * 1e3:8.1f} ms  [{low * 1e3:6.1f} - {high * 1e3:6.1f}]"
              f"{batch / median:9.1f} images/s")
    if len(medians) == 2:
        ours, theirs = medians.values()
        print(f"  ratio minicnn / PyTorch (throughput): {theirs / ours:.2f}x")


# --- step 5: memory, each engine in its own process ---------------------------------
def status_kib(field):
    """A memory figure of this process from /proc/self/status: VmRSS (now), VmHWM (peak).

    (VmHWM, unlike getrusage's ru_maxrss, starts afresh in a new process: ru_maxrss
    carries over the peak of the parent that forked it.)
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_probe(engine, network, backend, batch, steps=3):
    """Run in a fresh process: RSS before the first step and the peak over ``steps`` steps."""
    images, labels = common.random_batch(batch)
    if engine == "torch":
        import torch
        # built on the numpy backend: the numba one would load Numba into PyTorch's process
        net, loss_function, optimizer = torch_twin(common.minicnn_network(network, "numpy")[0])
        images, labels = torch.from_numpy(images), torch.from_numpy(labels)

        def step():
            torch_train_step(net, loss_function, optimizer, images, labels)
    else:
        model, optimizer = common.minicnn_network(network, backend)

        def step():
            common.minicnn_train_step(model, optimizer, images, labels)
    before = status_kib("VmRSS")
    for _ in range(steps):
        step()
    peak = status_kib("VmHWM")
    print(json.dumps({"before_mib": before / 1024, "peak_mib": peak / 1024}))


def run_probe(arguments, environment=None):
    command = [sys.executable, os.path.abspath(__file__), *arguments]
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            env={**os.environ, **(environment or {})}).stdout
    return json.loads(output.strip().splitlines()[-1])


def report_memory(network, backend, batch, with_torch):
    print(f"\nmemory of a training step (batch {batch}; each engine in a fresh process, "
          f"3 steps)")
    engines = [("minicnn " + backend, "minicnn")] + ([("PyTorch", "torch")] if with_torch else [])
    peaks = {}
    for label, engine in engines:
        result = run_probe(["--memory-probe", engine, "--network", network,
                            "--backend", backend, "--batch", str(batch)])
        peaks[label] = result["peak_mib"]
        print(f"  {label:<18} peak RSS {result['peak_mib']:7.0f} MiB   before the first step "
              f"{result['before_mib']:6.0f} MiB   the steps added "
              f"{result['peak_mib'] - result['before_mib']:6.0f} MiB")
    if len(peaks) == 2:
        ours, theirs = peaks.values()
        print(f"  peak RSS minicnn / PyTorch: {ours / theirs:.2f}")


# --- step 6: cold start --------------------------------------------------------------
def cold_start_probe(network, backend, batch):
    """Run in a fresh process: seconds for import + build + the first training step."""
    start = time.perf_counter()
    import minicnn  # noqa: F401
    imported = time.perf_counter()
    model, optimizer = common.minicnn_network(network, backend)
    images, labels = common.random_batch(batch)
    common.minicnn_train_step(model, optimizer, images, labels)
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "total_s": done - start}))


def report_cold_start(network, backend, batch, repeats=3):
    print(f"\ncold start: import minicnn + build the network + first training step "
          f"(batch {batch}, fresh process)")
    with tempfile.TemporaryDirectory() as cache:
        environment = {"NUMBA_CACHE_DIR": cache}
        arguments = ["--cold-start-probe", "--network", network, "--backend", backend,
                     "--batch", str(batch)]
        cold = run_probe(arguments, environment)
        warm = [run_probe(arguments, environment) for _ in range(repeats)]
    warm_total = common.summary([result["total_s"] for result in warm])[0]
    warm_import = common.summary([result["import_s"] for result in warm])[0]
    print(f"  empty Numba cache (compiles every kernel) {cold['total_s']:6.2f} s")
    print(f"  warm Numba cache (median of {repeats})          {warm_total:6.2f} s  "
          f"(of which import minicnn {warm_import:.2f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_network_argument(parser)
    parser.add_argument("--backend", default="numba", choices=["numba", "numpy", "cupy"],
                        help="cupy: on the GPU, against PyTorch CUDA eager on the same GPU")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true", help="time minicnn alone")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument("--memory-probe", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--cold-start-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe(args.memory_probe, args.network, args.backend, args.batch)
    if args.cold_start_probe:
        return cold_start_probe(args.network, args.backend, args.batch)

    on_gpu = args.backend == "cupy"
    with_torch = not args.no_torch and torch_available()
    print(f"# {common.machine_line()}")
    print(f"# {args.network} network; load average at start {common.load_average():.2f}")
    images, labels = common.random_batch(args.batch)
    model, optimizer = common.minicnn_network(args.network, args.backend)
    backend = model.backend
    if on_gpu:
        import cupy
        device = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        print(f"# GPU {device['name'].decode()}, CuPy {cupy.__version__}, "
              f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}")
    device_images, device_labels = backend.to_device(images), backend.to_device(labels)
    train = {f"minicnn {args.backend}": synchronized(
        lambda: common.minicnn_train_step(model, optimizer, device_images, device_labels),
        backend.synchronize)}
    infer = {f"minicnn {args.backend}": synchronized(lambda: model.forward(device_images),
                                                     backend.synchronize)}
    if with_torch and on_gpu:
        import torch
        with_torch = torch.cuda.is_available()
        if not with_torch:
            print("# torch has no CUDA here: timing minicnn alone")
    if with_torch:
        import torch
        torch_device = "cuda" if on_gpu else "cpu"
        print(f"# torch {torch.__version__}, {torch_device}, {torch.get_num_threads()} threads"
              + (f", cuDNN {torch.backends.cudnn.version()}" if on_gpu else ""))
        check_engines_agree(args.network, args.backend, images, labels)
        net, loss_function, _ = torch_twin(model)
        net = net.to(torch_device)
        torch_optimizer = torch.optim.SGD(net.parameters(), lr=common.LEARNING_RATE,
                                          momentum=common.MOMENTUM)
        torch_images = torch.from_numpy(images).to(torch_device)
        torch_labels = torch.from_numpy(labels).to(torch_device)
        torch_synchronize = torch.cuda.synchronize if on_gpu else (lambda: None)
        train["PyTorch"] = synchronized(
            lambda: torch_train_step(net, loss_function, torch_optimizer, torch_images,
                                     torch_labels), torch_synchronize)

        def torch_infer():
            with torch.inference_mode():
                return net(torch_images)
        infer["PyTorch"] = synchronized(torch_infer, torch_synchronize)
    elif not on_gpu:
        print("# timing minicnn alone (" + ("--no-torch" if args.no_torch else "torch not importable")
              + ")")

    report("training step", alternate(train, args.rounds, args.warmup), args.batch)
    model.eval()
    if with_torch:
        net.eval()
    report("inference", alternate(infer, args.rounds, args.warmup), args.batch)
    print(f"# load average at end {common.load_average():.2f}")
    if on_gpu:
        report_gpu_memory(model, with_torch)
    elif not args.no_memory:
        report_memory(args.network, args.backend, args.batch, with_torch)
    if not args.no_cold_start and not on_gpu:
        report_cold_start(args.network, args.backend, args.batch)


if __name__ == "__main__":
    main()
