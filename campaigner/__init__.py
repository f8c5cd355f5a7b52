"""campaigner: bulk outbound voice-notification campaigns."""

__version__ = "0.1.0"
