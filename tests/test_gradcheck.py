"""The gradient checker itself: it must catch wrong backward passes, not only bless right ones.

The classic student bugs of the functional pairs, graded as a course grades them, are in
test_course_catalogue.py.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minicnn import (BatchNorm2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential,
                     SoftmaxCrossEntropy, functional)
from minicnn.gradcheck import (OPERATIONS, GradcheckPrecisionWarning, assert_functions,
                               assert_gradients, check_forward, check_functions, check_layer,
                               distinct_values, numerical_gradient, rel_error, standard_cases)


class StudentScale:
    """A hand-written layer, as coursework would submit it: y = x * w (w per feature)."""

    def __init__(self, features, bug=None):
        self.params = {"w": np.linspace(0.5, 1.5, features)}
        self.grads = {}
        self.bug = bug

    def forward(self, x):
        self.x = x
        out = x * self.params["w"]
        if self.bug == "NaN in the output":
            out[0, 0] = np.nan                            # an entry np.empty left unset
        return out

    def backward(self, dout):
        if self.bug == "dout /= N":
            dout /= len(dout)                             # in place: the caller's dout changes
        if self.bug == "dx in place, then dw from it":
            dout *= self.params["w"]                      # dx, computed in place in dout ...
            self.grads["w"] = (dout * self.x).sum(axis=0)   # ... and dw reads the changed dout
            return dout
        self.grads["w"] = (dout * self.x).sum(axis=0)
        if self.bug == "dw_factor":
            self.grads["w"] = self.grads["w"] * 1.01
        if self.bug == "NaN in dw":
            self.grads["w"][-1] = np.nan
        dx = dout * self.params["w"]
        if self.bug == "inf in dx":
            dx[0, 0] = np.inf
        return dx * 2 if self.bug == "dx_factor" else dx


class OverwritingReLU(ReLU):
    """A ReLU whose forward clips its input in place: its output and backward are right."""

    def forward(self, x):
        x[x < 0] = 0
        return super().forward(x)


def failed(report):
    return set(report.failures())


# --- verdicts that hold ---------------------------------------------------------------------

def test_a_correct_student_layer_passes(rng):
    report = check_layer(StudentScale(4), rng.standard_normal((3, 4)))
    assert report.passed() and report.worst < 1e-9
    assert set(report.errors) == {"dx", "w"}


@pytest.mark.parametrize("bug, tensor", [("dx_factor", "dx"), ("dw_factor", "w")])
def test_a_buggy_student_layer_fails_on_the_right_tensor(bug, tensor, rng):
    report = check_layer(StudentScale(4, bug=bug), rng.standard_normal((3, 4)))
    assert failed(report) == {tensor}
    assert report.errors[tensor] > 1e-3
    assert "FAIL" in str(report) and tensor in str(report)


def test_a_conv_with_a_missing_flip_is_caught(rng, monkeypatch):
    """Break Conv2D's input gradient (forget to transpose W) and watch the check fail."""
    layer = Conv2D(2, 2, 3, padding=1).astype("float64")

    def wrong_transpose(y, x_shape=None):
        W = layer.params["W"]
        layer.params["W"] = W.transpose(1, 0, 2, 3).copy()
        try:
            return Conv2D.conv_transpose(layer, y, x_shape)
        finally:
            layer.params["W"] = W

    monkeypatch.setattr(layer, "conv_transpose", wrong_transpose)
    report = check_layer(layer, rng.standard_normal((1, 2, 5, 5)))
    assert report.errors["dx"] > 1e-2 and report.errors["W"] < 1e-8


def test_an_exactly_zero_gradient_passes(rng):
    """A conv bias before BatchNorm has gradient exactly 0; round-off alone must not fail it."""
    model = Sequential([Conv2D(2, 3, 3, padding=1), BatchNorm2D(3)]).reset_parameters(0)
    report = check_layer(model, rng.standard_normal((2, 2, 5, 5)))
    bias = report.comparisons["0.b"]
    assert np.all(np.abs(bias.expected) < bias.atol)   # the true gradient is 0: round-off only
    assert bias.checked == 3
    assert report.passed(), str(report)


@pytest.mark.parametrize("bug, tensor, found", [("NaN in dw", "w", "analytic is NaN or inf"),
                                                 ("inf in dx", "dx", "analytic is NaN or inf")])
def test_nan_or_inf_in_a_gradient_fails(bug, tensor, found, rng):
    """dw comes after dx, so Python's max(errors) would skip its NaN: the verdict must not."""
    report = check_layer(StudentScale(4, bug=bug), rng.standard_normal((3, 4)))
    assert not report.passed()
    assert failed(report) == {tensor}
    assert found in report.failures()[tensor]
    assert np.isnan(report.worst)


def test_a_forward_with_nan_fails_without_comparing(rng):
    report = check_layer(StudentScale(4, bug="NaN in the output"), rng.standard_normal((3, 4)))
    assert failed(report) == {"forward"}
    assert "forward returned NaN or inf (1 of 12 entries" in report.failures()["forward"]
    assert report.errors == {}


def test_a_backward_that_changes_dout_is_graded_on_the_untouched_dout(rng):
    """dout /= N in place: every gradient is off by 1/N, and the mutation is named."""
    report = check_layer(StudentScale(4, bug="dout /= N"), rng.standard_normal((3, 4)))
    assert failed(report) == {"dout", "dx", "w"}
    assert "backward changed dout in place (12 of 12 entries" in report.failures()["dout"]
    assert "analytic = numerical / 3" in report.failures()["dx"]


def test_dx_in_place_then_dw_from_the_changed_dout_blames_dw(rng):
    """dx is right (it is w * dout); dw is wrong (it read w * dout). The check must say so."""
    report = check_layer(StudentScale(4, bug="dx in place, then dw from it"),
                         rng.standard_normal((3, 4)))
    assert failed(report) == {"dout", "w"}
    assert report.errors["dx"] < 1e-9


def test_a_forward_that_changes_its_input_fails(rng):
    report = check_layer(OverwritingReLU(), distinct_values(rng, (2, 3, 4)))
    assert failed(report) == {"x"}
    assert "forward changed x in place" in report.failures()["x"]
    assert report.errors["dx"] < 1e-9   # graded on pristine copies of x


def test_a_random_forward_fails_and_says_how_to_fix_it(rng):
    report = check_layer(Dropout(0.5), rng.standard_normal((4, 6)))   # no fixed_mask
    assert failed(report) == {"forward"}
    assert "forward is not deterministic: fix the mask or seed" in report.failures()["forward"]
    assert report.errors == {}   # a numerical gradient of a random function means nothing


def test_a_forward_that_changes_a_parameter_fails(rng):
    class Drifting(StudentScale):
        def forward(self, x):
            self.params["w"] += 1.0                       # "updates" its weight on every call
            return super().forward(x)

    report = check_layer(Drifting(3), rng.standard_normal((2, 3)))
    assert "w" in failed(report) and "forward changed w in place" in report.failures()["w"]


def test_a_tensor_with_no_coordinate_compared_fails():
    report = check_layer(ReLU(), np.zeros((2, 3)))   # every input on the kink
    assert report.checked["dx"] == 0 and report.kinks["dx"] == 6
    assert failed(report) == {"dx"}
    assert "every coordinate was a kink" in report.failures()["dx"]
    assert "distinct_values" in report.failures()["dx"]


def test_relu_kinks_are_skipped_and_counted(rng):
    x = rng.uniform(0.5, 1.0, (2, 5)) * rng.choice([-1, 1], (2, 5))
    x[0, :3] = 0.0  # exactly at the kink
    report = check_layer(ReLU(), x)
    assert report.kinks["dx"] == 3
    assert report.checked["dx"] == 7
    assert report.passed()
    strict = check_layer(ReLU(), x, strict=True)
    assert failed(strict) == {"dx"}
    assert "3 coordinates skipped as kinks, and strict=True" in strict.failures()["dx"]


def test_passed_takes_another_tolerance(rng):
    report = check_layer(StudentScale(4, bug="dw_factor"), rng.standard_normal((3, 4)))
    error = report.errors["w"]                           # about 0.005: a 1% factor
    assert not report.passed() and report.passed(tolerance=2 * error)
    assert failed(report) == {"w"} and report.failures(tolerance=2 * error) == {}


# --- failure detail -------------------------------------------------------------------------

def test_a_failure_names_the_worst_entry_its_values_and_the_share_wrong(rng):
    layer = StudentScale(4, bug="dw_factor")
    x = rng.standard_normal((3, 4))
    report = check_layer(layer, x)
    comparison = report.comparisons["w"]
    worst = int(np.argmax(comparison.errors))
    reason = report.failures()["w"]
    assert f"worst at index ({worst},): analytic {comparison.got[worst]:.6g}, numerical " \
           f"{comparison.expected[worst]:.6g}; wrong at 4 of 4 compared entries" in reason
    assert "hint: analytic = 1.01 x numerical at every wrong entry" in reason
    row = next(line for line in str(report).splitlines() if line.startswith("  w "))
    assert row.split()[-2:] == ["100%", "FAIL"]


def test_report_prints_one_row_per_tensor(rng):
    text = str(check_layer(Conv2D(1, 2, 3).astype("float64"), rng.standard_normal((1, 1, 4, 4))))
    assert "gradient check of Conv2D (float64)" in text
    assert all(f"  {name} " in text for name in ("dx", "W", "b"))
    assert "worst" in text and text.endswith("verdict: pass")


def test_repr_is_one_line_so_a_failed_assert_prints_the_table_once(rng):
    report = check_layer(StudentScale(4, bug="dw_factor"), rng.standard_normal((3, 4)))
    assert repr(report) == "<GradcheckReport of StudentScale: FAILED: w>"


PYTEST_USER = """
import numpy as np
from minicnn.gradcheck import assert_gradients, check_layer

class Buggy:
    def __init__(self):
        self.params, self.grads = {"w": np.array([0.5, 1.5])}, {}
    def forward(self, x):
        self.x = x
        return x * self.params["w"]
    def backward(self, dout):
        self.grads["w"] = dout.sum(axis=0)            # BUG: forgot the factor x
        return dout * self.params["w"]

X = np.arange(1.0, 7.0).reshape(3, 2)

def test_documented_pattern():
    report = check_layer(Buggy(), X)
    assert report.passed(), str(report)

def test_assert_gradients():
    assert_gradients(Buggy(), X)
"""


def test_a_failing_pytest_shows_the_table_once_per_test(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent(PYTEST_USER))
    # -rN: no short summary at the end, whose length pytest changes under $CI; what is
    # counted is each failure's own report
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rN", "-p", "no:cacheprovider",
                             "test_user.py"], cwd=tmp_path, capture_output=True, text=True)
    assert "2 failed" in result.stdout, result.stdout
    assert result.stdout.count("gradient check of Buggy (float64)") == 2, result.stdout
    assert result.stdout.count("FAIL w: worst at index") == 2, result.stdout


# --- the test-friendly API ------------------------------------------------------------------

def test_assert_gradients_returns_the_report_or_raises_with_the_table(rng):
    x = rng.standard_normal((3, 4))
    assert assert_gradients(StudentScale(4), x).passed()
    with pytest.raises(AssertionError) as raised:
        assert_gradients(StudentScale(4, bug="dx_factor"), x)
    assert str(raised.value).startswith("gradient check of StudentScale (float64)")
    assert str(raised.value).count("verdict: FAIL (dx)") == 1


def scale_forward(x, w):
    """out = x * w (w per feature) -> (out, cache)."""
    return x * w, (x, w)


def scale_backward(dout, cache):
    x, w = cache
    return dout * w, (dout * x).sum(axis=0)


def test_check_functions_names_tensors_after_the_signature(rng):
    report = check_functions(scale_forward, scale_backward, rng.standard_normal((3, 4)),
                             rng.uniform(0.5, 1.5, 4))
    assert report.passed(), str(report)
    assert list(report.errors) == ["dx", "dw"]
    assert report.name == "scale_forward / scale_backward"


def test_check_functions_takes_a_single_array_and_constants(rng):
    def power_forward(x, exponent, scale=1.0):
        return scale * x ** exponent, (x, exponent, scale)

    def power_backward(dout, cache):
        x, exponent, scale = cache
        return dout * scale * exponent * x ** (exponent - 1)    # one array, not a tuple

    def halved_backward(dout, cache):
        return power_backward(dout, cache) / 2

    x = rng.uniform(0.5, 2.0, (3, 2))
    report = assert_functions(power_forward, power_backward, x, 3, scale=2.0)
    assert list(report.errors) == ["dx"]                 # 3 is an int: a constant
    with pytest.raises(AssertionError, match="analytic = numerical / 2"):
        assert_functions(power_forward, halved_backward, x, 3, scale=2.0)


def test_check_functions_wrt_says_which_arguments_get_gradients(rng):
    x = rng.standard_normal((4, 5))
    keep = rng.random(x.shape) >= 0.3
    forward, backward = functional.dropout_forward, functional.dropout_backward
    report = check_functions(forward, backward, x, 0.3, keep)             # default: x only
    assert list(report.errors) == ["dx"] and report.passed(), str(report)
    assert check_functions(forward, backward, x, 0.3, keep, wrt=[0]).passed()
    with pytest.raises(TypeError, match=r"wrt lists argument 2 \(keep\), which is not a "
                                        r"floating-point array but ndarray of dtype bool"):
        check_functions(forward, backward, x, 0.3, keep, wrt=[0, 2])
    with pytest.raises(ValueError, match="wrt lists 3, but dropout_forward is given 3 "
                                         "positional arguments"):
        check_functions(forward, backward, x, 0.3, keep, wrt=[3])


def test_check_functions_takes_a_missing_bias_as_none(rng):
    case = standard_cases("conv2d")[3]
    x, weight, bias = case.args
    assert bias is None
    report = check_functions(functional.conv2d_forward, functional.conv2d_backward,
                             x, weight, None, **case.kwargs)
    assert list(report.errors) == ["dx", "dweight"] and report.passed(), str(report)


def test_check_functions_refuses_a_backward_that_returns_the_wrong_things(rng):
    x, w = rng.standard_normal((3, 4)), rng.uniform(0.5, 1.5, 4)
    with pytest.raises(ValueError, match=r"scale_backward returned 2 gradients; expected 1 "
                                         r"gradient \(dx\)"):
        check_functions(scale_forward, scale_backward, x, w, wrt=[0])
    with pytest.raises(ValueError, match="returned None for dw"):
        check_functions(scale_forward, lambda dout, cache: (dout * cache[1], None), x, w)
    with pytest.raises(TypeError, match=r"must return \(out, cache\), got ndarray"):
        check_functions(lambda x, w: x * w, scale_backward, x, w)


def test_check_functions_gives_a_loss_a_random_scalar_dout(rng):
    """A backward that ignores the upstream gradient is only right when dout is 1."""
    case = standard_cases("softmax_cross_entropy")[1]

    def ignoring_dout(dout, cache):
        return functional.softmax_cross_entropy_backward(1.0, cache)   # right only at dout = 1

    forward = functional.softmax_cross_entropy_forward
    assert check_functions(forward, functional.softmax_cross_entropy_backward, *case.args,
                           wrt=case.wrt).passed()
    assert failed(check_functions(forward, ignoring_dout, *case.args, wrt=case.wrt)) == {"dlogits"}


def test_check_forward_catches_what_gradient_checks_cannot(rng):
    """A Dense without its bias, and a matching backward: right gradients, wrong output."""
    class NoBiasDense(Dense):
        def forward(self, x):
            self.x = x
            return x @ self.params["W"]

        def backward(self, dout):
            self.grads["W"], self.grads["b"] = self.x.T @ dout, np.zeros_like(self.params["b"])
            return dout @ self.params["W"].T

    reference, student = Dense(3, 2).astype("float64"), NoBiasDense(3, 2).astype("float64")
    reference.params["b"][...] = rng.standard_normal(2)
    student.params = {name: value.copy() for name, value in reference.params.items()}
    x = rng.standard_normal((4, 3))
    assert check_layer(student, x).passed()
    report = check_forward(student, reference, x)
    assert failed(report) == {"out"}
    assert "a missing or extra bias?" in report.failures()["out"]
    assert check_forward(reference, reference, x).passed()


def test_check_forward_refuses_a_wrong_shape(rng):
    with pytest.raises(ValueError, match=r"returned shape \(3, 4\); the reference"):
        check_forward(lambda x: (x, None), lambda x: (x.sum(axis=1), None),
                      rng.standard_normal((3, 4)))


def test_check_forward_names_a_missing_return_and_reads_a_list_as_out_and_cache(rng):
    def relu_forward(x):
        np.maximum(x, 0)

    def reference(x):
        return np.maximum(x, 0), x

    x = rng.standard_normal((3, 4))
    with pytest.raises(TypeError, match="relu_forward returned None: is a return statement missing"):
        check_forward(relu_forward, reference, x)
    assert check_forward(lambda x: [np.maximum(x, 0), x], reference, x).passed()


# --- inputs that expose bugs ----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(21,), (3, 7), (2, 3, 4, 5), (1, 1, 101, 99)])
def test_distinct_values_have_no_ties_and_no_zeros(shape, rng):
    values = distinct_values(rng, shape).ravel()
    assert values.shape == (int(np.prod(shape)),)
    gaps = np.diff(np.sort(values))
    assert gaps.min() >= 2 / values.size * (1 - 1e-12)
    assert np.abs(values).min() >= 2 / values.size * (1 - 1e-12)
    assert (values > 0).any() and (values < 0).any()


def test_standard_sweeps_include_the_cases_where_bugs_hide():
    conv = standard_cases("conv2d")
    assert any(case.kwargs.get("stride", 1) > 1 and case.kwargs.get("padding", 0) > 0
               for case in conv)
    # the defaults a function must resolve, and the ones a squeeze breaks
    assert any("stride" not in case.kwargs and "padding" not in case.kwargs for case in conv)
    assert any(case.args[0].shape[:2] == (1, 1) and case.args[1].shape[0] == 1 for case in conv)
    assert any("stride" not in case.kwargs for case in standard_cases("maxpool"))
    assert any("eps" in case.kwargs for case in standard_cases("batchnorm"))
    assert len({case.args[1] for case in standard_cases("dropout", seed=1)}
               | {case.args[1] for case in standard_cases("dropout", seed=2)}) == 4   # p drawn
    assert any(case.args[2] is None for case in conv) and any(
        case.args[2] is not None and np.all(case.args[2] != 0) for case in conv)
    pool = standard_cases("maxpool")
    assert any(case.kwargs.get("stride", case.kwargs["kernel_size"]) < case.kwargs["kernel_size"]
               for case in pool)
    assert any(case.kwargs.get("stride") == case.kwargs["kernel_size"] for case in pool)
    norm = standard_cases("batchnorm")
    assert all(np.all(case.args[1] != 1) and np.all(case.args[2] != 0) for case in norm)
    assert any("mean" in case.kwargs for case in norm)
    unfold = standard_cases("im2col")
    for windows in (conv, unfold):
        kernels = [case.args[1].shape[2:] if windows is conv else case.args[1:3] for case in windows]
        assert any(height != width for height, width in kernels)
    strides = [(case.kwargs["stride"], case.args[1]) for case in unfold]
    assert any(stride < kernel for stride, kernel in strides)
    assert any(stride == kernel for stride, kernel in strides)
    targets = [case.args[1] for case in standard_cases("softmax_cross_entropy")]
    assert any(labels.ndim == 1 for labels in targets)
    assert any(labels.ndim == 2 and np.allclose(labels.sum(axis=1), 1) for labels in targets)
    for operation in OPERATIONS:
        cases = standard_cases(operation)
        shapes = [case.args[0].shape for case in cases]
        assert any(shape[0] > 1 for shape in shapes), operation
        if operation in ("im2col", "conv2d", "maxpool", "global_avg_pool"):
            assert any(shape[2] != shape[3] for shape in shapes), operation


def test_standard_cases_are_fresh_arrays_and_refuse_an_unknown_operation():
    first, second = standard_cases("relu")[0], standard_cases("relu")[0]
    assert first.args[0] is not second.args[0]
    np.testing.assert_array_equal(first.args[0], second.args[0])   # seeded
    with pytest.raises(ValueError, match="no standard cases for 'conv3d': choose one of"):
        standard_cases("conv3d")


def small_loss_network(seed):
    return Sequential([Conv2D(3, 6, 3, padding=1), ReLU(),
                       Conv2D(6, 6, 3, padding=1, bias=False), BatchNorm2D(6), ReLU(),
                       MaxPool2D(2), Flatten(), Dense(6 * 5 * 6, 4), SoftmaxCrossEntropy()]
                      ).reset_parameters(seed)


def test_the_roundoff_allowance_has_a_margin_of_three_on_minicnn_itself(rng):
    """The allowance is 10x an estimate; correct networks stay within a third of it, entry by
    entry (docs/gradcheck.md cites this)."""
    for model, labels in [(small_loss_network(seed=0), np.array([0, 3, 1, 2])),
                          (Sequential([Conv2D(3, 4, 3, padding=1),
                                       BatchNorm2D(4)]).reset_parameters(0), None)]:
        x = rng.standard_normal((4, 3, 10, 13)) * 10
        report = check_layer(model, x, labels=labels, max_coordinates=40)
        assert report.passed(), str(report)
        for comparison in report.comparisons.values():
            difference = np.abs(comparison.got - comparison.expected)
            allowance = comparison.atol / 3
            assert np.all(difference[comparison.compared] <= allowance[comparison.compared]), \
                comparison.name


# --- the numerical side ---------------------------------------------------------------------

def test_numerical_gradient_of_a_known_function(rng):
    x = rng.standard_normal((3, 2))
    dout = rng.standard_normal((3, 2))
    gradient = numerical_gradient(lambda v: v ** 3, x, dout)
    np.testing.assert_allclose(gradient, 3 * x ** 2 * dout, rtol=1e-8)
    assert np.array_equal(x, x.copy())  # restored after perturbation


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error(np.array([1.0]), np.array([1.0 + 2e-7])) == pytest.approx(1e-7, rel=1e-6)
    assert rel_error(np.array([0.0]), np.array([0.0])) == 0.0
    with pytest.raises(ValueError, match="equal shapes"):
        rel_error(np.ones(2), np.ones(3))


def test_float32_check_warns(rng):
    with pytest.warns(GradcheckPrecisionWarning, match="float64"):
        check_layer(StudentScale(2), rng.standard_normal((2, 2)).astype(np.float32))
    with pytest.warns(GradcheckPrecisionWarning, match="float64"):
        check_functions(scale_forward, scale_backward,
                        rng.standard_normal((2, 2)).astype(np.float32), np.ones(2))
