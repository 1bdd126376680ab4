"""Render rows of values as CSV text."""


def to_csv(rows):
    """Return `rows` (lists of numbers and strings) as CSV text, one line per row, each ending in a newline.

    Fields are separated by commas; a string containing a comma, a quote or a newline is quoted, with
    quotes doubled (as in RFC 4180).

    >>> to_csv([[1, "a,b"], [2, "c"]])
    '1,"a,b"\\n2,c\\n'
    """
    text = ""
    for row in rows:
        line = ""
        for i, value in enumerate(row):
            field = str(value)
            if "," in field or '"' in field or "\n" in field:
                field = '"' + field.replace('"', '""') + '"'
            if i > 0:
                line = line + ","
            line = line + field
        text = text + line + "\n"
    return text
