#!/usr/bin/env bash
# The GPU acceptance run, in one go: CuPy for the CUDA it finds, the suite's cupy cases,
# bench_train_step.py --backend cupy against PyTorch CUDA (eager) on the default network
# (ahe-resnet) at batch 64 and 256, and one AHE epoch on the GPU.
#
#     benchmarks/gpu_acceptance.sh            (from the repository root, with .venv built)
#
# One summary line per check ("CHECK <name>: PASS|FAIL|SKIP <detail> (<seconds> s)"),
# each step under `timeout`: under 8 minutes in all whatever happens (the limits below
# add up to 460 s; on an H100 the steps should take a fraction of theirs). The full output of each
# step goes to $ACCEPTANCE_LOGS (default: a fresh temporary folder, named at the end).
#
# Exit status:
#   0  every check passed (a SKIP, such as a missing dataset, says why and is no failure)
#   1  a check failed (its line says which; its log has the rest)
#   3  no GPU here: no nvidia-smi, or nvidia-smi lists no GPU. Nothing is installed or run.
#
# Environment:
#   PYTHON                    the interpreter (default .venv/bin/python, else python3)
#   AHE_DATA                  the AHE Image64 folder (default ../shared/data/ahe64)
#   ACCEPTANCE_LOGS           where each step's output goes
#   CUPY_FIND_LINKS           a folder of wheels, for a machine without network access
#   ACCEPTANCE_INSTALL_COMMAND  replaces the install command (the package name is appended):
#                             tests/test_gpu_acceptance.py's stub; never needed otherwise
set -u

PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
AHE_DATA=${AHE_DATA:-../shared/data/ahe64}
ACCEPTANCE_LOGS=${ACCEPTANCE_LOGS:-$(mktemp -d -t minicnn-gpu-acceptance.XXXXXX)}
mkdir -p "$ACCEPTANCE_LOGS"
FAILED=0

summary() {  # summary NAME STATUS DETAIL SECONDS
    echo "CHECK $1: $2 $3 ($4 s)"
    [ "$2" = FAIL ] && FAILED=1
    return 0
}

step() {  # step NAME LIMIT_SECONDS COMMAND...: run it under timeout, its output to NAME.log
    local name=$1 limit=$2
    shift 2
    local started=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$ACCEPTANCE_LOGS/$name.log" 2>&1
    STEP_STATUS=$?
    STEP_SECONDS=$((SECONDS - started))
    if [ "$STEP_STATUS" -eq 124 ] || [ "$STEP_STATUS" -eq 137 ]; then
        STEP_DETAIL="timed out after $limit s"
    else
        STEP_DETAIL="exit status $STEP_STATUS"
    fi
}

last_line() {  # the last line of a step's log matching a pattern (or nothing)
    grep -E "$2" "$ACCEPTANCE_LOGS/$1.log" | tail -n 1
}

# --- 1. a GPU, and the CUDA version its driver supports ---------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "CHECK gpu: SKIP no GPU here (nvidia-smi not found); nothing installed or run"
    exit 3
fi
GPU=$(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
if [ -z "$GPU" ]; then
    echo "CHECK gpu: SKIP no GPU here (nvidia-smi lists none); nothing installed or run"
    exit 3
fi
DRIVER_CUDA=$(timeout 10 nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\.\([0-9]*\).*/\1.\2/p' | head -n 1)
TOOLKIT_CUDA=""
if command -v nvcc >/dev/null 2>&1; then
    TOOLKIT_CUDA=$(timeout 10 nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
fi
CUDA=${DRIVER_CUDA:-$TOOLKIT_CUDA}
if [ -z "$CUDA" ]; then
    summary gpu FAIL "$GPU: neither nvidia-smi nor nvcc reports a CUDA version" 0
    exit 1
fi
summary gpu PASS "$GPU; driver CUDA ${DRIVER_CUDA:-?}, nvcc ${TOOLKIT_CUDA:-none}" 0

# --- 2. CuPy for that CUDA ----------------------------------------------------------------
case ${CUDA%%.*} in
    11) CUPY_PACKAGE="cupy-cuda11x" ;;
    12) CUPY_PACKAGE="cupy-cuda12x>=14" ;;
    13) CUPY_PACKAGE="cupy-cuda13x" ;;
    *) summary cupy-install FAIL "no CuPy wheel for CUDA $CUDA (11, 12 and 13 have one)" 0
       exit 1 ;;
esac
if [ -n "${ACCEPTANCE_INSTALL_COMMAND:-}" ]; then
    read -r -a INSTALL <<<"$ACCEPTANCE_INSTALL_COMMAND"
else
    INSTALL=("$PYTHON" -m pip install -q)
    [ -n "${CUPY_FIND_LINKS:-}" ] && INSTALL+=(--find-links "$CUPY_FIND_LINKS")
fi
step cupy-install 100 "${INSTALL[@]}" "$CUPY_PACKAGE"
if [ "$STEP_STATUS" -ne 0 ]; then
    summary cupy-install FAIL "$CUPY_PACKAGE: $STEP_DETAIL (log $ACCEPTANCE_LOGS/cupy-install.log)" "$STEP_SECONDS"
    exit 1
fi
step cupy-import 20 "$PYTHON" -c "import cupy; x = cupy.arange(10.0); assert float((x * x).sum()) == 285.0; print(cupy.__version__, cupy.cuda.runtime.getDeviceProperties(0)['name'].decode())"
if [ "$STEP_STATUS" -ne 0 ]; then
    summary cupy-install FAIL "$CUPY_PACKAGE installed, but CuPy cannot compute on the GPU ($STEP_DETAIL)" "$STEP_SECONDS"
    exit 1
fi
summary cupy-install PASS "$CUPY_PACKAGE: CuPy $(tail -n 1 "$ACCEPTANCE_LOGS/cupy-import.log")" "$STEP_SECONDS"

# --- 3. the suite's cupy cases (real CuPy; the stand-ins fakecupy / fakecuda excluded) --
step cupy-tests 100 "$PYTHON" -m pytest -q -p no:cacheprovider -k "cupy and not fakecupy and not fakecuda" tests
RESULT=$(last_line cupy-tests "passed|failed|error")
if [ "$STEP_STATUS" -eq 0 ] && echo "$RESULT" | grep -q "passed"; then
    summary cupy-tests PASS "$RESULT" "$STEP_SECONDS"
else
    summary cupy-tests FAIL "${RESULT:-no pytest summary}; $STEP_DETAIL" "$STEP_SECONDS"
fi

# --- 4. minicnn cupy against PyTorch CUDA eager, default network, batch 64 and 256 -------
for BATCH in 64 256; do
    step "bench-batch$BATCH" 55 "$PYTHON" benchmarks/bench_train_step.py --backend cupy \
        --network ahe-resnet --batch "$BATCH" --rounds 10 --warmup 3
    TRAIN=$(grep -A3 "^training step" "$ACCEPTANCE_LOGS/bench-batch$BATCH.log" | grep "ratio" | sed 's/.*: //')
    INFER=$(grep -A3 "^inference" "$ACCEPTANCE_LOGS/bench-batch$BATCH.log" | grep "ratio" | sed 's/.*: //')
    if [ "$STEP_STATUS" -eq 0 ] && [ -n "$TRAIN" ]; then
        summary "bench-batch$BATCH" PASS "minicnn cupy / PyTorch CUDA: training ${TRAIN}, inference ${INFER:-?}" "$STEP_SECONDS"
    else
        summary "bench-batch$BATCH" FAIL "$(tail -n 1 "$ACCEPTANCE_LOGS/bench-batch$BATCH.log"); $STEP_DETAIL" "$STEP_SECONDS"
    fi
done

# --- 5. one AHE epoch on the GPU -----------------------------------------------------------
if [ ! -d "$AHE_DATA/train" ]; then
    summary ahe-epoch SKIP "no dataset at $AHE_DATA/train (set AHE_DATA)" 0
else
    step ahe-epoch 100 "$PYTHON" examples/train_ahe.py --data "$AHE_DATA" --backend cupy \
        --epochs 1 --out "$ACCEPTANCE_LOGS/ahe-run" --no-progress
    if [ "$STEP_STATUS" -eq 0 ]; then
        summary ahe-epoch PASS "$(last_line ahe-epoch "epoch|val" | cut -c1-150)" "$STEP_SECONDS"
    else
        summary ahe-epoch FAIL "$(tail -n 1 "$ACCEPTANCE_LOGS/ahe-epoch.log" | cut -c1-150); $STEP_DETAIL" "$STEP_SECONDS"
    fi
fi

echo "logs: $ACCEPTANCE_LOGS"
exit $FAILED
