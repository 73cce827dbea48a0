"""The command line (`logjet ...`) and `logjet up`: the floor above every component.

It imports the collectors, the processor, the shippers and the API to run them; nothing below imports it, so the
shared package (`logjet/`) stays free of the components it serves.
"""
