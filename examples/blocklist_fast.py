"""Drop the e-mail addresses that are on a blocklist (set membership)."""


def filter_blocked(emails, blocked):
    """Return the addresses in `emails` that are not in `blocked` (case-insensitive), in order."""
    blocked_lower = {address.lower() for address in blocked}
    return [email for email in emails if email.lower() not in blocked_lower]
