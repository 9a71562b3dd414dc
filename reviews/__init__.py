"""Flowsite's reviewer product: the inbox, answer forms and the audit log of decisions."""
