"""Energy model: MAC counts, firing rates, cost presets and reports."""
