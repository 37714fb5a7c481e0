"""The domain: events, profiles, campaigns and the right-time policy. Pure: no I/O, no AWS, no clock reads."""
