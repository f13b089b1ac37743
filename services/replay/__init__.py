"""``jeugdhub replay``: the whole hub (validate, then aggregate) offline, on a file of messages."""
