"""What an assignment's checks import: numeric assertions and the failure types.

A check is a plain pytest function::

    @pytest.mark.problem("softmax", points=2)
    def test_large_logits_stay_finite(submission, reference):
        x = np.array([[1001.0, 1002.0], [3.0, 4.0]])
        assert_close(submission.softmax(x), reference.softmax(x), rtol=1e-6,
                     hint="subtract the row maximum before exp")
"""

from grader.checks.numeric import CheckFailure, as_numeric, as_scalar, assert_close, outline, show
from grader.checks.proxy import StudentError, call_student, explain
from grader.wire import Foreign, FunctionSpec

__all__ = ["CheckFailure", "Foreign", "FunctionSpec", "StudentError", "as_numeric", "as_scalar",
           "assert_close", "call_student", "explain", "outline", "show"]
