"""The gradient checker itself: it must catch wrong backward passes, not only bless right ones."""
import numpy as np
import pytest

from minicnn import Conv2D, ReLU
from minicnn.gradcheck import (GradcheckPrecisionWarning, check_layer, numerical_gradient,
                               rel_error)


class StudentScale:
    """A hand-written layer, as coursework would submit it: y = x * w (w per feature)."""

    def __init__(self, features, bug=None):
        self.params = {"w": np.linspace(0.5, 1.5, features)}
        self.grads = {}
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x * self.params["w"]

    def backward(self, dout):
        self.grads["w"] = (dout * self.x).sum(axis=0)
        if self.bug == "dw_factor":
            self.grads["w"] = self.grads["w"] * 1.01
        dx = dout * self.params["w"]
        return dx * 2 if self.bug == "dx_factor" else dx


def test_a_correct_student_layer_passes(rng):
    report = check_layer(StudentScale(4), rng.standard_normal((3, 4)))
    assert report.passed() and report.worst < 1e-9
    assert set(report.errors) == {"dx", "w"}


@pytest.mark.parametrize("bug, tensor", [("dx_factor", "dx"), ("dw_factor", "w")])
def test_a_buggy_student_layer_fails_on_the_right_tensor(bug, tensor, rng):
    report = check_layer(StudentScale(4, bug=bug), rng.standard_normal((3, 4)))
    assert not report.passed()
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


def test_relu_kinks_are_skipped_and_counted(rng):
    x = rng.uniform(0.5, 1.0, (2, 5)) * rng.choice([-1, 1], (2, 5))
    x[0, :3] = 0.0  # exactly at the kink
    report = check_layer(ReLU(), x)
    assert report.kinks["dx"] == 3
    assert report.checked["dx"] == 7
    assert report.passed()


def test_report_prints_one_row_per_tensor(rng):
    text = str(check_layer(Conv2D(1, 2, 3).astype("float64"), rng.standard_normal((1, 1, 4, 4))))
    assert "gradient check of Conv2D (float64)" in text
    assert all(f"  {name} " in text for name in ("dx", "W", "b"))
    assert "worst" in text
