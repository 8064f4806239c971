"""minicnn against PyTorch's CPU build, side by side in one run, on the reference network.

    .venv/bin/python benchmarks/bench_train_step.py [--backend numba] [--batch 64] [--rounds 15]
                                                     [--no-memory] [--no-cold-start]
    python benchmarks/bench_train_step.py --backend cupy --batch 256    (on a GPU)

1. Builds the reference network (see common.py) in minicnn and, when torch can
   be imported, in PyTorch with the *same* weights.
2. Checks before timing anything: for one batch, with one fixed dropout mask,
   both engines must give the same loss and the same gradient for every
   parameter (float32 tolerance). The script stops if they do not.
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

# minicnn's float32 error (relative, in norm) may be this many times PyTorch's, plus the floor
GRADIENT_SLACK = 4.0
FLOAT32_FLOOR = 1e-5


# --- PyTorch twin -------------------------------------------------------------------
def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_reference(image_size=64):
    """The reference network in PyTorch: (net, loss function, SGD optimizer)."""
    import torch
    from torch import nn
    torch.set_num_threads(common.THREADS)
    layers = []
    for c_in, c_out in zip(common.CHANNELS, common.CHANNELS[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    side = image_size // 16
    layers += [nn.Flatten(), nn.Linear(common.CHANNELS[-1] * side * side, common.HIDDEN), nn.ReLU(),
               nn.Dropout(0.5), nn.Linear(common.HIDDEN, common.CLASSES)]
    net = nn.Sequential(*layers)
    optimizer = torch.optim.SGD(net.parameters(), lr=common.LEARNING_RATE,
                                momentum=common.MOMENTUM)
    return net, nn.CrossEntropyLoss(), optimizer


def parameter_pairs(model, net):
    """[(minicnn layer, torch module)] for the layers with weights, in order."""
    ours = [layer for layer in model.layers if layer.params]
    theirs = [module for module in net if any(True for _ in module.parameters())]
    assert len(ours) == len(theirs)
    return list(zip(ours, theirs))


def as_torch_weight(layer, name, value):
    """minicnn's Dense keeps W as (in, out), torch's Linear as (out, in)."""
    return value.T if name == "W" and value.ndim == 2 else value


def copy_weights(model, net):
    import torch
    to_host = model.backend.to_host
    with torch.no_grad():
        for layer, module in parameter_pairs(model, net):
            weight = as_torch_weight(layer, "W", to_host(layer.params["W"]))
            module.weight.copy_(torch.from_numpy(weight))
            module.bias.copy_(torch.from_numpy(to_host(layer.params["b"])))


def torch_train_step(net, loss_function, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = loss_function(net(images), labels)
    loss.backward()
    optimizer.step()
    return loss


# --- step 2: the engines agree -----------------------------------------------------
def torch_loss_and_gradients(net, loss_function, images, labels, scale, dtype):
    """PyTorch's loss and [(dW, db)] per layer in ``dtype``, with dropout replaced by ``scale``."""
    import copy

    import torch
    from torch import nn

    class FixedMask(nn.Module):
        def forward(self, x):
            return x * torch.from_numpy(scale).to(x.dtype)

    net = copy.deepcopy(net).to(getattr(torch, dtype))
    dropout_index = next(i for i, module in enumerate(net) if isinstance(module, nn.Dropout))
    net[dropout_index] = FixedMask()
    loss = loss_function(net(torch.from_numpy(images.astype(dtype))), torch.from_numpy(labels))
    loss.backward()
    gradients = [(module.weight.grad.numpy(), module.bias.grad.numpy())
                 for module in net if any(True for _ in module.parameters())]
    return loss.item(), gradients


def check_same_loss_and_gradients(model, net, loss_function, images, labels):
    """Same weights, same batch, same dropout mask: same loss and gradients, or stop.

    "Same" means: minicnn (float32) is as close to the exact answer (PyTorch in
    float64) as PyTorch's own float32 result, give or take GRADIENT_SLACK.
    Gradients such as conv1's dW sum 10^5 products that largely cancel, so
    float32 agrees with float64 to about 1e-3 there, in either engine.
    """
    from minicnn import Dropout
    dropout = next(layer for layer in model.layers if isinstance(layer, Dropout))
    keep = np.random.default_rng(1).random((len(images), common.HIDDEN)) >= dropout.p
    scale = keep / (1 - dropout.p)

    backend = model.backend
    dropout.fixed_mask = backend.to_device(keep)
    loss = float(backend.to_host(model.forward(backend.to_device(images),
                                               backend.to_device(labels))))
    model.backward()
    dropout.fixed_mask = None
    ours = [(as_torch_weight(layer, "W", backend.to_host(layer.grads["W"])),
             backend.to_host(layer.grads["b"])) for layer, _ in parameter_pairs(model, net)]
    torch_loss, torch_float32 = torch_loss_and_gradients(net, loss_function, images, labels,
                                                         scale, "float32")
    exact_loss, exact = torch_loss_and_gradients(net, loss_function, images, labels, scale,
                                                 "float64")

    def distance(a, b):
        return np.linalg.norm(a - b) / np.linalg.norm(b)

    rows = []
    for index, (pair, torch_pair, exact_pair) in enumerate(zip(ours, torch_float32, exact)):
        for name, mine, theirs, truth in zip("Wb", pair, torch_pair, exact_pair):
            rows.append((f"layer {index} d{name}", distance(mine, truth), distance(theirs, truth),
                         distance(mine, theirs)))
    rows.append(("loss", abs(loss - exact_loss) / abs(exact_loss),
                 abs(torch_loss - exact_loss) / abs(exact_loss),
                 abs(loss - torch_loss) / abs(torch_loss)))
    failed = [row for row in rows if row[1] > GRADIENT_SLACK * row[2] + FLOAT32_FLOOR]
    worst = max(rows, key=lambda row: row[3])
    print(f"check: loss minicnn {loss:.6f}, PyTorch {torch_loss:.6f}, float64 {exact_loss:.6f}; "
          f"{len(rows) - 1} gradients; largest difference minicnn - PyTorch {worst[3]:.1e} "
          f"({worst[0]}); error against float64: minicnn at most "
          f"{max(row[1] for row in rows):.1e}, PyTorch at most {max(row[2] for row in rows):.1e}")
    if failed:
        sys.exit("minicnn and PyTorch disagree: " + "; ".join(
            f"{name}: minicnn off by {mine:.1e}, PyTorch by {theirs:.1e}"
            for name, mine, theirs, _ in failed))


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


def memory_probe(engine, backend, batch, steps=3):
    """Run in a fresh process: RSS before the first step and the peak over ``steps`` steps."""
    images, labels = common.random_batch(batch)
    if engine == "torch":
        import torch
        net, loss_function, optimizer = torch_reference()
        images, labels = torch.from_numpy(images), torch.from_numpy(labels)

        def step():
            torch_train_step(net, loss_function, optimizer, images, labels)
    else:
        model, optimizer = common.minicnn_reference(backend)

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


def report_memory(backend, batch, with_torch):
    print(f"\nmemory of a training step (batch {batch}; each engine in a fresh process, "
          f"3 steps)")
    engines = [("minicnn " + backend, "minicnn")] + ([("PyTorch", "torch")] if with_torch else [])
    peaks = {}
    for label, engine in engines:
        result = run_probe(["--memory-probe", engine, "--backend", backend,
                            "--batch", str(batch)])
        peaks[label] = result["peak_mib"]
        print(f"  {label:<18} peak RSS {result['peak_mib']:7.0f} MiB   before the first step "
              f"{result['before_mib']:6.0f} MiB   the steps added "
              f"{result['peak_mib'] - result['before_mib']:6.0f} MiB")
    if len(peaks) == 2:
        ours, theirs = peaks.values()
        print(f"  peak RSS minicnn / PyTorch: {ours / theirs:.2f}")


# --- step 6: cold start --------------------------------------------------------------
def cold_start_probe(backend, batch):
    """Run in a fresh process: seconds for import + build + the first training step."""
    start = time.perf_counter()
    import minicnn  # noqa: F401
    imported = time.perf_counter()
    model, optimizer = common.minicnn_reference(backend)
    images, labels = common.random_batch(batch)
    common.minicnn_train_step(model, optimizer, images, labels)
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - start, "total_s": done - start}))


def report_cold_start(backend, batch, repeats=3):
    print(f"\ncold start: import minicnn + build the network + first training step "
          f"(batch {batch}, fresh process)")
    with tempfile.TemporaryDirectory() as cache:
        environment = {"NUMBA_CACHE_DIR": cache}
        arguments = ["--cold-start-probe", "--backend", backend, "--batch", str(batch)]
        cold = run_probe(arguments, environment)
        warm = [run_probe(arguments, environment) for _ in range(repeats)]
    warm_total = common.summary([result["total_s"] for result in warm])[0]
    warm_import = common.summary([result["import_s"] for result in warm])[0]
    print(f"  empty Numba cache (compiles every kernel) {cold['total_s']:6.2f} s")
    print(f"  warm Numba cache (median of {repeats})          {warm_total:6.2f} s  "
          f"(of which import minicnn {warm_import:.2f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
        return memory_probe(args.memory_probe, args.backend, args.batch)
    if args.cold_start_probe:
        return cold_start_probe(args.backend, args.batch)

    on_gpu = args.backend == "cupy"
    with_torch = not args.no_torch and torch_available()
    print(f"# {common.machine_line()}")
    print(f"# load average at start {common.load_average():.2f}")
    images, labels = common.random_batch(args.batch)
    model, optimizer = common.minicnn_reference(args.backend)
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
        net, loss_function, torch_optimizer = torch_reference()
        copy_weights(model, net)
        check_same_loss_and_gradients(model, net, loss_function, images, labels)
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
        report_memory(args.backend, args.batch, with_torch)
    if not args.no_cold_start and not on_gpu:
        report_cold_start(args.backend, args.batch)


if __name__ == "__main__":
    main()
