"""takedown: from a report of child sexual abuse material or non-consensual intimate
imagery to the removal of every copy, and the legal reports that follow."""

__version__ = "0.1.0"
