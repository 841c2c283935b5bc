"""L3 ipywidgets: the dashboard and the chat panel, rebuilt from the event log."""
