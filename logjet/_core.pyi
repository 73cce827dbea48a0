"""The compiled core (native/): private; processor.parsers is its caller."""

def parse_batch(lines: list[str], now_ns: list[int], /) -> list[tuple[str, int | None, str | None, dict[str, str | int],
                                                                     dict[str, str] | None] | str]: ...
