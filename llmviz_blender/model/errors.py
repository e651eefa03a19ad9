"""The one error type the model layer raises."""


class ModelError(ValueError):
    """Bad input to the model layer: a one-line message naming the file, tensor or field at fault."""
