"""L3 reports: pandas tables and Stylers, and session report notebooks."""
