"""Diamond: turns a Discourse forum into a high-commitment learning community."""

__version__ = "0.1.0"
