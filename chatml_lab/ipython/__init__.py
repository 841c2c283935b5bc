"""L3 IPython: the ``%chatml`` magics, their pure argument parser and traitlets configuration."""
