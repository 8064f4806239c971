"""The catalogue of classic student bugs, as mutation tests of the grader.

Each bug is a small edit of one of minicnn/functional's own files (the reference
solution), written into a submission folder and graded as a student's file is:
loaded on its own (minicnn.course.submission), its functions run through their
standard sweeps beside minicnn's partner (minicnn.course.grading). The grader
must take points from exactly the function the bug is in, leave every other
function of the file at full points, and name exactly the tensors (or problems)
the bug breaks. A latent bug must pass the cases where it hides (stride ==
kernel, N = 1, square inputs, eval mode) and fail the others: that is why the
sweeps hold the hard cases.

A bug that no longer applies (its text is gone from minicnn/functional) fails
loudly: update its edit here.
"""
from dataclasses import dataclass, field

import numpy as np
import pytest

from minicnn.course import EXERCISES, grade, load_function
from minicnn.course.exercises import SOURCE_FOLDER, exercises_in
from minicnn.gradcheck import standard_cases


@dataclass(frozen=True)
class Bug:
    """``edits`` [(text, replacement)] of ``file`` put a bug into ``function``; the grader must
    name exactly ``named`` (tensor or problem names, and "raised" for a case that raised);
    ``hidden(case)`` is True where a latent bug is right (None: the bug fails every case)."""
    name: str
    file: str
    function: str
    edits: tuple
    named: frozenset
    hidden: object = field(default=None, compare=False)


def bug(name, file, function, edits, named, hidden=None):
    return Bug(name, file, function, tuple(edits), frozenset(named), hidden)


def batch(case):
    return case.args[0].shape[0]


def overlap_free(case):
    kernel = case.args[1] if case.operation == "im2col" else case.kwargs["kernel_size"]
    return case.kwargs.get("stride", kernel) == kernel   # max-pool's stride defaults to it


CATALOGUE = [
    # im2col.py
    bug("im2col forgets the padding", "im2col.py", "im2col",
        [("x_padded = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))",
          "x_padded = x   # BUG: no padding")],
        {"raised"}, hidden=lambda case: case.kwargs["padding"] == 0),
    bug("col2im overwrite", "im2col.py", "col2im",
        [("] += cols[:, :, i, j]", "] = cols[:, :, i, j]   # BUG: overlaps: the last one wins")],
        {"dx"}, hidden=overlap_free),
    # conv.py
    bug("conv forward without the bias", "conv.py", "conv2d_forward",
        [("        out += bias[:, None]", "        pass   # BUG: the bias is never added")],
        {"out"}, hidden=lambda case: case.args[2] is None),
    bug("conv forward flips the kernel (a true convolution)", "conv.py", "conv2d_forward",
        [("out = xp.matmul(weight.reshape(F, -1), cols)",
          "out = xp.matmul(weight[:, :, ::-1, ::-1].reshape(F, -1), cols)")],
        {"out"}),   # its cache is right: minicnn's backward on it is right
    bug("conv forward uses kernel_h for both axes", "conv.py", "conv2d_forward",
        [("cols = unfold(x, kernel_h, kernel_w, stride, padding)",
          "cols = unfold(x, kernel_h, kernel_h, stride, padding)   # BUG: kw")],
        {"raised"}, hidden=lambda case: case.args[1].shape[2] == case.args[1].shape[3]),
    bug("missing kernel flip", "conv.py", "conv2d_backward",
        # dx as the full correlation of dout with W, not with W rotated by 180 degrees:
        # in the scatter form of col2im that is the flipped kernel
        [("dcols = xp.matmul(weight.reshape(F, -1).T", "dcols = xp.matmul("
          "weight[:, :, ::-1, ::-1].reshape(F, -1).T")],
        {"dx"}),
    bug("dx left as the TODO's placeholder", "conv.py", "conv2d_backward",
        [("    dx = conv2d_transpose(dout, cache.weight, cache.x_shape, cache.stride, "
          "cache.padding)", "    dx = array_module(dout).zeros(cache.x_shape)   # BUG")],
        {"dx"}),
    bug("conv bias gradient of the first sample only", "conv.py", "conv2d_backward",
        [("dout_rows.sum(axis=(0, 2)) if", "dout_rows[0].sum(axis=1) if")],
        {"dbias"}, hidden=lambda case: batch(case) == 1 or case.args[2] is None),
    bug("conv dW overwritten by each sample", "conv.py", "conv2d_backward",
        [("weight_gradient += dout_rows[n] @ cols[n].T",
          "weight_gradient = dout_rows[n] @ cols[n].T   # BUG: = and not +=")],
        {"dweight"}, hidden=lambda case: batch(case) == 1),
    # pool.py
    bug("max-pool switches transposed in the cache", "pool.py", "maxpool_forward",
        [("windows[i * k + j] = x", "windows[j * k + i] = x")],   # the window's index, transposed
        {"dx", "cache.switches"}),
    bug("max-pool routes to the whole window", "pool.py", "maxpool_backward",
        [("routed = xp.where(switches == i * k + j, y, 0)", "routed = y   # BUG")],
        {"dx"}),
    bug("max-pool overwrite", "pool.py", "maxpool_backward",
        [("j:j + s * out_w:s] += routed", "j:j + s * out_w:s] = routed   # BUG: one window wins")],
        {"dx"}, hidden=overlap_free),
    bug("average pool sums", "pool.py", "global_avg_pool_forward",
        [("return x.mean(axis=(2, 3)),", "return x.sum(axis=(2, 3)),")],
        {"out"}),
    bug("average pool backward without 1/(H*W)", "pool.py", "global_avg_pool_backward",
        [("dout[:, :, None, None] / (H * W)", "dout[:, :, None, None]")],
        {"dx"}),
    bug("average pool backward with 1/H^2", "pool.py", "global_avg_pool_backward",
        [("dout[:, :, None, None] / (H * W)", "dout[:, :, None, None] / (H * H)")],
        {"dx"}, hidden=lambda case: case.args[0].shape[2] == case.args[0].shape[3]),
    # relu.py
    bug("relu forward overwrites its input", "relu.py", "relu_forward",
        [("    return x * mask, mask", "    x *= mask   # BUG: in place\n    return x, mask")],
        {"x"}),
    bug("relu backward uses the sign wrongly", "relu.py", "relu_backward",
        # the out >= 0 bug: every entry passes the test, as out is never negative
        [("    return dout * cache", "    return dout * (cache >= 0)   # BUG")],
        {"dx"}),
    bug("relu backward forgets dout", "relu.py", "relu_backward",
        [("    return dout * cache", "    return cache.astype(dout.dtype)   # BUG")],
        {"dx"}),
    # dense.py
    bug("dense forward with W transposed", "dense.py", "dense_forward",
        [("return x @ weight + bias", "return x @ weight.T + bias")],
        {"raised", "out"}),   # raises where W is not square
    bug("dout /= N in place", "dense.py", "dense_backward",
        [("    weight_gradient, bias_gradient = dense_parameter_gradients(dout, cache)",
          "    dout /= dout.shape[0]   # BUG: in place, and it does not belong\n"
          "    weight_gradient, bias_gradient = dense_parameter_gradients(dout, cache)")],
        {"dout", "dx", "dweight", "dbias"}, hidden=lambda case: batch(case) == 1),
    bug("transposed W", "dense.py", "dense_backward",
        [("return dout @ cache.weight.T", "return dout @ cache.weight   # BUG: W, not W^T")],
        {"raised", "dx"}),
    bug("transposed dW", "dense.py", "dense_backward",
        [("return cache.x.T @ dout, dout.sum(axis=0)",
          "return dout.T @ cache.x, dout.sum(axis=0)   # BUG: (x^T dout)^T")],
        {"raised", "dweight"}),
    bug("NaN in dW", "dense.py", "dense_backward",
        [("    return cache.x.T @ dout, dout.sum(axis=0)",
          "    weight_gradient = cache.x.T @ dout\n"
          "    weight_gradient[:, -1] = float('nan')   # BUG: what np.empty left in a column\n"
          "    return weight_gradient, dout.sum(axis=0)")],
        {"dweight"}),
    bug("dense bias gradient as a mean", "dense.py", "dense_backward",
        [("dout.sum(axis=0)", "dout.mean(axis=0)")],
        {"dbias"}, hidden=lambda case: batch(case) == 1),
    bug("flatten forward flattens the batch too", "dense.py", "flatten_forward",
        [("return x.reshape(x.shape[0], -1), tuple(x.shape)", "return x.reshape(-1), "
          "tuple(x.shape)")],
        {"raised"}),
    bug("flatten backward forgets the reshape", "dense.py", "flatten_backward",
        [("return dout.reshape(cache)", "return dout")],
        {"raised"}),
    # dropout.py
    bug("dropout draws its own mask", "dropout.py", "dropout_forward",
        [('"""\n\n\ndef dropout_forward', '"""\nimport numpy as np\n\n\ndef dropout_forward'),
         ("    mask = keep.astype", "    keep = np.random.default_rng().random(x.shape) >= p"
          "   # BUG\n    mask = keep.astype")],
        {"out", "cache", "dx"}),
    bug("dropout forward without 1/(1-p)", "dropout.py", "dropout_forward",
        [("mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)", "mask = keep.astype(x.dtype)")],
        {"out", "cache", "dx"}),   # its cache is as wrong as its output
    bug("dropout backward without 1/(1-p)", "dropout.py", "dropout_backward",
        [("    return dout * cache", "    return dout * (cache > 0)   # BUG: keep, not the mask")],
        {"dx"}),
    # batchnorm.py
    bug("batchnorm forward without the square root", "batchnorm.py", "batchnorm_forward",
        [("inv_std = 1 / xp.sqrt(var + eps)", "inv_std = 1 / (var + eps)")],
        {"out", "dx", "dgamma", "cache.x_hat", "cache.inv_std"}),
    bug("batchnorm forward with batch statistics in eval", "batchnorm.py", "batchnorm_forward",
        [("    if training:\n", "    if True:   # BUG: the given mean and var ignored\n")],
        {"out", "dx", "dgamma", "cache.x_hat", "cache.inv_std", "cache.mean", "cache.var"},
        hidden=lambda case: "mean" not in case.kwargs),
    bug("batchnorm without the variance term", "batchnorm.py", "batchnorm_backward",
        [("(m * dx_hat - sum_dx_hat - x_hat * sum_dx_hat_x_hat)", "(m * dx_hat - sum_dx_hat)")],
        {"dx"}, hidden=lambda case: "mean" in case.kwargs),
    bug("batchnorm eval formula in training", "batchnorm.py", "batchnorm_backward",
        [("    if not cache.training:\n        return dx_hat * inv_std\n",
          "    return dx_hat * inv_std   # BUG: as if mean and var were constants\n")],
        {"dx"}, hidden=lambda case: "mean" in case.kwargs),
    bug("batchnorm mean over N only", "batchnorm.py", "batchnorm_backward",
        [("m = dout.shape[0] * dout.shape[2] * dout.shape[3]", "m = dout.shape[0]   # BUG")],
        {"dx"}, hidden=lambda case: "mean" in case.kwargs),
    bug("dx_hat in place in dout, then dgamma and dbeta from it", "batchnorm.py",
        "batchnorm_backward",
        [("    dgamma, dbeta = batchnorm_parameter_gradients(dout, cache)\n"
          "    return batchnorm_input_gradient(dout, cache), dgamma, dbeta",
          "    dx = batchnorm_input_gradient(dout, cache)\n"
          "    dgamma, dbeta = batchnorm_parameter_gradients(dout, cache)\n"
          "    return dx, dgamma, dbeta"),
         ("    dx_hat = dout * gamma", "    dx_hat = dout\n    dx_hat *= gamma   # BUG: in place")],
        {"dout", "dgamma", "dbeta"}),   # dx is right
    bug("dgamma from gamma * x_hat", "batchnorm.py", "batchnorm_backward",
        [("(dout * cache.x_hat).sum(axis=axes)",
          "(dout * cache.gamma[:, None, None] * cache.x_hat).sum(axis=axes)")],
        {"dgamma"}),
    # loss.py
    bug("softmax loss summed, not averaged", "loss.py", "softmax_cross_entropy_forward",
        [("axis=1).mean()\n    return", "axis=1).sum()   # BUG: not the mean\n    return")],
        {"out"},
        hidden=lambda case: batch(case) == 1 or case.args[1].ndim == 2),
    bug("softmax without 1/N", "loss.py", "softmax_cross_entropy_backward",
        [("    dlogits /= N\n", "")],
        {"dlogits"}, hidden=lambda case: batch(case) == 1),
    bug("softmax ignores dout", "loss.py", "softmax_cross_entropy_backward",
        [("    dlogits *= dout\n", "")],
        {"dlogits"}),
    bug("softmax gradient sign flipped", "loss.py", "softmax_cross_entropy_backward",
        [("    dlogits /= N\n", "    dlogits /= -N   # BUG: onehot - p\n")],
        {"dlogits"}),
    bug("soft targets taken as labels", "loss.py", "softmax_cross_entropy_backward",
        [("    if cache.labels.ndim == 2:\n        dlogits = cache.probs - cache.labels\n"
          "    else:\n        dlogits", "    if True:\n        dlogits")],
        {"raised"}, hidden=lambda case: case.args[1].ndim == 1),
]

# Issue 23: bugs that the grader of before gave full points, one or more per mechanism.
# (Each was graded on the code before the child process and the new sweeps: full points.)
def no_stride(case):
    return "stride" not in case.kwargs


MECHANISMS = [
    # 1. state carried across calls
    bug("dW accumulated in a global never zeroed", "dense.py", "dense_backward",
        [("def dense_forward(", "_TOTALS = {}\n\n\ndef dense_forward("),
         ("    return cache.x.T @ dout, dout.sum(axis=0)",
          "    total = _TOTALS.get(cache.weight.shape, 0) + cache.x.T @ dout   # BUG: never 0\n"
          "    _TOTALS[cache.weight.shape] = total\n"
          "    return total, dout.sum(axis=0)")],
        {"dweight"}),
    bug("dW returned in a buffer shared between calls", "dense.py", "dense_backward",
        [("def dense_forward(", "_BUFFERS = {}\n\n\ndef dense_forward("),
         ("    return cache.x.T @ dout, dout.sum(axis=0)",
          "    buffer = _BUFFERS.setdefault(cache.weight.shape, cache.weight * 0)   # BUG\n"
          "    buffer[...] = cache.x.T @ dout\n"
          "    return buffer, dout.sum(axis=0)")],
        {"dweight"}),
    bug("conv cache aliases a module-level buffer", "conv.py", "conv2d_forward",
        [("class ConvCache", "_COLS = {}\n\n\nclass ConvCache"),
         ("    cols = unfold(x, kernel_h, kernel_w, stride, padding)     # (N, C*kh*kw, P)\n",
          "    cols = unfold(x, kernel_h, kernel_w, stride, padding)\n"
          "    buffer = _COLS.setdefault(cols.shape, cols)   # BUG: one buffer per shape\n"
          "    buffer[...] = cols\n"
          "    cols = buffer\n")],
        {"cache.cols"}),
    # 2. the student's forward and backward together
    bug("relu backward reads the mask its forward left in a global", "relu.py", "relu_backward",
        [("def relu_forward(", "_LAST = {}\n\n\ndef relu_forward("),
         ("    mask = x > 0\n", "    mask = x > 0\n    _LAST['mask'] = mask\n"),
         ("    return dout * cache", "    return dout * _LAST.get('mask', cache)   # BUG")],
        {"raised", "dx"}),
    # 3. cache fields minicnn's backward does not read
    bug("batchnorm stores the standard deviation as var", "batchnorm.py", "batchnorm_forward",
        [("BatchNormCache(x_hat, inv_std, gamma, training, mean, var)",
          "BatchNormCache(x_hat, inv_std, gamma, training, mean, 1 / inv_std)   # BUG")],
        {"cache.var"}),
    bug("softmax backward edits cache.probs in place", "loss.py",
        "softmax_cross_entropy_backward",
        [("        dlogits = cache.probs.copy()", "        dlogits = cache.probs   # BUG")],
        {"cache.probs"}, hidden=lambda case: case.args[1].ndim == 2),
    # 4. arguments and shapes the sweeps never used
    bug("batchnorm ignores eps", "batchnorm.py", "batchnorm_forward",
        [("inv_std = 1 / xp.sqrt(var + eps)", "inv_std = 1 / xp.sqrt(var + 1e-5)   # BUG")],
        {"out", "dx", "dgamma", "cache.x_hat", "cache.inv_std"},
        hidden=lambda case: "eps" not in case.kwargs),
    bug("max-pool stride left as None", "pool.py", "maxpool_forward",
        [("    stride = kernel_size if stride is None else stride\n", "")],
        {"raised"}, hidden=lambda case: not no_stride(case)),
    bug("conv db squeezed", "conv.py", "conv2d_backward",
        [("dout_rows.sum(axis=(0, 2)) if", "dout_rows.sum(axis=(0, 2)).squeeze() if")],
        {"raised"}, hidden=lambda case: case.args[1].shape[0] != 1 or case.args[2] is None),
    bug("dropout scale looked up for the usual p", "dropout.py", "dropout_forward",
        [("mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)",
          "mask = keep.astype(x.dtype) * {0.3: 1 / 0.7, 0.5: 2.0}.get(p, 1.0)   # BUG")],
        {"out", "cache", "dx"}),
    # 5. types
    bug("object-dtype dW", "dense.py", "dense_backward",
        [("    return cache.x.T @ dout, dout.sum(axis=0)",
          "    return (cache.x.T @ dout).astype(object), dout.sum(axis=0)   # BUG")],
        {"raised"}),
    bug("relu backward returns float32", "relu.py", "relu_backward",
        [("    return dout * cache", "    return (dout * cache).astype('float32')   # BUG")],
        {"dx"}),
]
CATALOGUE += MECHANISMS

REQUIRED = {"col2im overwrite", "missing kernel flip", "max-pool routes to the whole window",
            "softmax without 1/N", "transposed W", "dout /= N in place", "NaN in dW",
            "batchnorm without the variance term", "batchnorm eval formula in training",
            "dropout draws its own mask", "conv forward without the bias",
            "relu backward uses the sign wrongly"}


def mutated(bug):
    """The source of ``bug.file`` with its edits, each applied to exactly one place."""
    source = (SOURCE_FOLDER / bug.file).read_text(encoding="utf-8")
    for text, replacement in bug.edits:
        assert source.count(text) == 1, (f"{bug.name}: {text!r} is in minicnn/functional/"
                                         f"{bug.file} {source.count(text)} times, not once")
        source = source.replace(text, replacement)
    return source


def submit(folder, bug):
    (folder / bug.file).write_text(mutated(bug), encoding="utf-8")
    return folder


def named(result):
    """The names the grader gave a function's failures, over its whole sweep."""
    return {name for case in result.cases for _, failures in case.failures for name in failures} \
        | ({"raised"} if any(case.error for case in result.cases) else set())


@pytest.mark.parametrize("bug", CATALOGUE, ids=[bug.name for bug in CATALOGUE])
def test_each_bug_costs_exactly_the_function_it_is_in(bug, tmp_path):
    results = grade(submit(tmp_path, bug), exercises_in(bug.file))
    scores = {result.exercise.function: result.score for result in results}
    full = {exercise.function: float(exercise.points) for exercise in exercises_in(bug.file)}
    assert scores[bug.function] < full[bug.function]
    assert {name: score for name, score in scores.items() if name != bug.function} == \
        {name: points for name, points in full.items() if name != bug.function}
    broken = next(result for result in results if result.exercise.function == bug.function)
    assert not broken.error, broken.error
    assert named(broken) == bug.named
    hidden = bug.hidden or (lambda case: False)
    assert [result.passed for result in broken.cases] == [
        bool(hidden(case)) for case in standard_cases(broken.exercise.operation)]


def test_the_catalogue_has_the_classic_bugs_and_reaches_every_function():
    names = [bug.name for bug in CATALOGUE]
    assert len(set(names)) == len(names) >= 15
    assert REQUIRED <= set(names)
    assert {bug.function for bug in CATALOGUE} == {exercise.function for exercise in EXERCISES}


def test_minicnn_own_functions_score_full_points():
    results = grade(SOURCE_FOLDER)
    assert [result.exercise.function for result in results] == [e.function for e in EXERCISES]
    assert {result.exercise.function: result.score for result in results} == \
        {exercise.function: float(exercise.points) for exercise in EXERCISES}
    assert sum(result.score for result in results) == 100


# What the sweeps cannot see: each bug here scores full points, and its harm is shown.
# docs/gradcheck.md ("What a gradient check cannot catch") lists them.

def test_a_log_softmax_without_the_max_shift_passes_yet_overflows(tmp_path):
    unstable = bug("log-softmax without the max shift", "loss.py",
                   "softmax_cross_entropy_forward",
                   [("    log_probs = log_softmax(logits)\n",
                     "    log_probs = logits - xp.log(xp.exp(logits).sum(axis=1, keepdims=True))"
                     "\n")], set())
    submit(tmp_path, unstable)
    [result] = grade(tmp_path, [next(exercise for exercise in EXERCISES
                                                 if exercise.function == unstable.function)])
    assert result.score == result.exercise.points
    forward = load_function(tmp_path, result.exercise)
    with np.errstate(all="ignore"):
        loss, _ = forward(np.array([[1000.0, 0.0]]), np.array([0]))
    assert not np.isfinite(loss)


def test_a_conv_that_computes_in_float64_passes_yet_doubles_the_memory(tmp_path):
    widened = bug("conv forward in float64", "conv.py", "conv2d_forward",
                  [("out = xp.matmul(weight.reshape(F, -1), cols)",
                    "out = xp.matmul(weight.reshape(F, -1), cols).astype(xp.float64)")], set())
    submit(tmp_path, widened)
    exercise = next(exercise for exercise in EXERCISES if exercise.function == "conv2d_forward")
    [result] = grade(tmp_path, [exercise])
    assert result.score == exercise.points
    out, _ = load_function(tmp_path, exercise)(np.ones((1, 1, 3, 3), np.float32),
                                               np.ones((1, 1, 2, 2), np.float32), None)
    assert out.dtype == np.float64


# Issue 23's false fails: correct functions that lost points. Each now keeps them, or fails
# with a detail that names the cause.

def grade_bug(folder, name, file, function, edits):
    submit(folder, bug(name, file, function, edits, set()))
    return {result.exercise.function: result for result in grade(folder, exercises_in(file))}


def test_a_forward_computed_in_float32_inside_keeps_its_points(tmp_path):
    results = grade_bug(tmp_path, "relu forward in float32 inside", "relu.py", "relu_forward",
                        [("    return x * mask, mask",
                          "    return (x.astype('float32') * mask).astype(x.dtype), mask")])
    assert results["relu_forward"].score == 2, results["relu_forward"].cases


def test_a_dense_forward_computed_in_float32_inside_keeps_its_points(tmp_path):
    results = grade_bug(tmp_path, "dense forward in float32 inside", "dense.py", "dense_forward",
                        [("return x @ weight + bias, DenseCache(x, weight)",
                          "return (x.astype('float32') @ weight.astype('float32')).astype("
                          "x.dtype) + bias, DenseCache(x, weight)")])
    assert results["dense_forward"].score == 3, results["dense_forward"].cases


def test_a_conv_backward_in_float32_inside_is_told_so(tmp_path):
    results = grade_bug(tmp_path, "conv backward in float32 inside", "conv.py",
                        "conv2d_backward",
                        [("        weight_gradient += dout_rows[n] @ cols[n].T",
                          "        weight_gradient += (dout_rows[n].astype('float32') @ "
                          "cols[n].T.astype('float32')).astype(dout.dtype)")])
    backward = results["conv2d_backward"]
    failing = [case for case in backward.cases if not case.passed]
    assert failing   # float64 is required (README, docs/gradcheck.md), and the detail says why
    for case in failing:
        reasons = [reason for _, failures in case.failures for reason in failures.values()]
        assert all("float32 inside?" in reason for reason in reasons), reasons
    assert results["conv2d_forward"].score == 7


def test_a_forward_that_returns_a_list_keeps_its_points(tmp_path):
    results = grade_bug(tmp_path, "dense forward returns a list", "dense.py", "dense_forward",
                        [("return x @ weight + bias, DenseCache(x, weight)",
                          "return [x @ weight + bias, DenseCache(x, weight)]")])
    assert results["dense_forward"].score == 3, results["dense_forward"].cases
    assert results["dense_backward"].score == 8
