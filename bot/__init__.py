"""debt-rights-bot: answers borrowers' questions about debt collection in mainland China, with citations."""

__version__ = "0.1.0"
