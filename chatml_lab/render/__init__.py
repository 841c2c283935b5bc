"""Rendering shared by every UI: badges and colours, the event log folded into blocks, HTML and plain text.

Pure functions over plain values (the standard library, :mod:`chatml_lab.events` and ``mistune``):
the CLI, the widgets and the report notebooks import them, so each thing is drawn one way.
"""
