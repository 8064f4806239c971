"""Numerical gradient checks: the proof that a backward pass is right, and a grader's verdict.

    check_layer(layer, x)                          a layer, or a whole Sequential
    check_functions(forward_fn, backward_fn, x, *params, **constants)
                                                   a CS231n-style (out, cache) pair
    check_forward(student, reference, x)           a forward against a reference
    assert_gradients / assert_functions            the same, raising AssertionError
    distinct_values, standard_cases(operation)     inputs that expose bugs

A verdict holds: backward works on a private copy of dout (changing it fails),
the numerical side uses pristine copies, NaN or inf anywhere fails, a random
forward or one that changes its input fails, and a tensor of which no
coordinate could be compared fails. See docs/gradcheck.md for the method.

    >>> report = check_layer(MyConv(3, 4, 3), x)     # x float64
    >>> print(report)
    >>> assert report.passed(), str(report)
"""
from .checks import (GradcheckPrecisionWarning, assert_functions, assert_gradients,
                     check_forward, check_functions, check_layer)
from .inputs import OPERATIONS, SWEEPS, Case, distinct_values, standard_cases
from .numerical import (ROUNDOFF_FACTOR, CentralDifferences, central_differences,
                        numerical_gradient, numerical_gradient_with_kinks, rel_error)
from .report import DEFAULT_TOLERANCE, SCALE_FLOOR, Comparison, GradcheckReport

__all__ = ["check_layer", "check_functions", "check_forward", "assert_gradients",
           "assert_functions", "GradcheckReport", "Comparison", "GradcheckPrecisionWarning",
           "numerical_gradient", "numerical_gradient_with_kinks", "rel_error",
           "central_differences", "CentralDifferences",
           "distinct_values", "Case", "standard_cases", "SWEEPS", "OPERATIONS",
           "DEFAULT_TOLERANCE", "SCALE_FLOOR", "ROUNDOFF_FACTOR"]
