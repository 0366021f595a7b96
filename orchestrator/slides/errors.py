"""Errors that stop one slide but never the whole run."""


class SlideError(Exception):
    """A problem with one slide; the message names the reason, the runner adds the slide."""
