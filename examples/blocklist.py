"""Drop the e-mail addresses that are on a blocklist."""


def filter_blocked(emails, blocked):
    """Return the addresses in `emails` that are not in `blocked`, in their original order.

    Addresses are compared case-insensitively; the returned addresses keep their original spelling.

    >>> filter_blocked(["a@x.org", "B@y.org", "c@z.org"], ["b@Y.org"])
    ['a@x.org', 'c@z.org']
    """
    blocked_lower = []
    for address in blocked:
        blocked_lower.append(address.lower())
    kept = []
    for email in emails:
        if email.lower() not in blocked_lower:
            kept.append(email)
    return kept
