"""righttime: right-time marketing on AWS. Context decides whether and when a triggered message goes out."""

__version__ = "0.1.0"
