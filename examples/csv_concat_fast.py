"""Render rows of values as CSV text (one join instead of growing a string)."""


def _field(value):
    field = str(value)
    if "," in field or '"' in field or "\n" in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def to_csv(rows):
    """Return `rows` as CSV text, one line per row, each ending in a newline (RFC 4180 quoting)."""
    return "".join([",".join([_field(v) for v in row]) + "\n" for row in rows])
