"""The grid worker's phone app (/field/): an installable web app to report a
problem with photos and the location, work offline, follow one's own cases,
and verify (核实) and inspect (核查) on site. It holds no rule of its own: it
calls the case services and the action registry as the API does."""
