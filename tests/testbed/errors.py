"""The one exception type the testbed raises."""


class TestbedError(RuntimeError):
    """Something in bringing the testbed up or down failed; the message says what and where to look."""

    __test__ = False  # not a pytest test class, despite the name
