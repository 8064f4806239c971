"""The catalogue of classic student bugs, as mutation tests of the gradient checker.

Each bug of tests/student_functions.py runs through the standard sweep of its
operation (minicnn.gradcheck.standard_cases), with a gradient check and a
forward check against the bug-free version. The checker must catch every bug
and name exactly the tensors (or problems) it breaks; the bug-free versions
must pass. Some bugs are latent: right on easy inputs (stride == kernel,
N = 1), which is why the sweeps include the hard ones.
"""
import functools

import pytest

from minicnn.gradcheck import OPERATIONS, standard_cases

from . import student_functions

# (operation, bug, the failures the checker must name over the whole sweep)
CATALOGUE = [
    ("conv2d", "col2im overwrite", {"dx"}),
    ("conv2d", "missing kernel flip", {"dx"}),
    ("conv2d", "dx left as the TODO stub", {"dx"}),
    ("conv2d", "bias gradient of the first sample only", {"dbias"}),
    ("conv2d", "forward without the bias", {"out"}),          # only the forward check sees it
    ("maxpool", "max-pool routes to the whole window", {"dx"}),
    ("maxpool", "max-pool overwrite", {"dx"}),
    ("relu", "forward overwrites its input", {"x"}),
    ("relu", "relu backward uses the output's sign", {"dx"}),
    ("relu", "relu backward without the mask", {"dx"}),
    ("dense", "dout /= N in place", {"dout", "dx", "dweight", "dbias"}),
    ("dense", "transposed W", {"dx"}),
    ("dense", "transposed dW", {"dweight"}),
    ("dense", "NaN in dW", {"dweight"}),
    ("dense", "bias gradient as a mean", {"dbias"}),
    ("dropout", "dropout draws its own mask", {"forward", "out"}),
    ("dropout", "dropout backward without 1/(1-p)", {"dx"}),
    ("batchnorm", "dx_hat computed in place in dout", {"dout", "dgamma"}),   # dx is right
    ("batchnorm", "dgamma from x", {"dgamma"}),
    ("batchnorm", "batchnorm eval formula in training", {"dx"}),
    ("batchnorm", "batchnorm mean over N only", {"dx"}),
    ("batchnorm", "batchnorm without the variance term", {"dx"}),
    ("global_avg_pool", "average pool without 1/(H*W)", {"dx"}),
    ("softmax_cross_entropy", "softmax without 1/N", {"dlogits"}),
    ("softmax_cross_entropy", "softmax ignores dout", {"dlogits"}),
    ("softmax_cross_entropy", "softmax gradient sign flipped", {"dlogits"}),
]

# where a latent bug is right: the checker passes those cases and fails the others
LATENT = {
    "col2im overwrite": lambda case: case.kwargs["stride"] == case.args[1].shape[-1],
    "max-pool overwrite": lambda case: case.kwargs["stride"] == case.kwargs["kernel_size"],
    "bias gradient of the first sample only":
        lambda case: case.args[0].shape[0] == 1 or case.args[2] is None,
    "dout /= N in place": lambda case: case.args[0].shape[0] == 1,
    "bias gradient as a mean": lambda case: case.args[0].shape[0] == 1,
    "softmax without 1/N": lambda case: case.args[0].shape[0] == 1,
}
# where a bug is loud instead: the student's own code raises on a shape (non-square W)
LOUD = {
    "transposed W": lambda case: case.args[1].shape[0] != case.args[1].shape[1],
    "transposed dW": lambda case: case.args[1].shape[0] != case.args[1].shape[1],
}


def student_pair(operation, bug=None):
    forward = getattr(student_functions, f"{operation}_forward")
    return functools.partial(forward, bug=bug), getattr(student_functions, f"{operation}_backward")


def verdict(case, bug):
    """The failures of the gradient check and the forward check of ``bug`` on ``case``."""
    forward, backward = student_pair(case.operation, bug)
    reference, _ = student_pair(case.operation)
    gradients = case.check(forward, backward)
    outputs = case.check_forward(forward, reference)
    return set(gradients.failures()) | set(outputs.failures())


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_bug_free_student_functions_pass_every_standard_case(operation):
    forward, backward = student_pair(operation)
    for case in standard_cases(operation):
        report = case.check(forward, backward, strict=True)
        assert report.passed(), f"{case}\n{report}"


@pytest.mark.parametrize("operation, bug, named", CATALOGUE, ids=[bug for _, bug, _ in CATALOGUE])
def test_each_classic_bug_is_caught_and_named(operation, bug, named):
    hidden, loud = LATENT.get(bug), LOUD.get(bug)
    caught = set()
    for case in standard_cases(operation):
        if loud is not None and loud(case):
            with pytest.raises(ValueError):
                verdict(case, bug)
            continue
        failures = verdict(case, bug)
        if hidden is not None:
            assert not failures if hidden(case) else failures, f"{bug} on {case}: {failures}"
        caught |= failures
    assert caught == named


def test_the_catalogue_covers_every_operation_and_bug():
    switched = {bug for _, bug, _ in CATALOGUE}
    assert {operation for operation, _, _ in CATALOGUE} == set(OPERATIONS)
    assert len(switched) == len(CATALOGUE) >= 20
    assert set(LATENT) | set(LOUD) <= switched
