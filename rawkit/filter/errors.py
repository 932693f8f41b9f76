"""The one error type the filter compiler raises."""


class FilterError(ValueError):
    """A filter expression tcpdump would also reject. `position` is the character offset of the
    offending token when the problem is syntactic, else None."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
