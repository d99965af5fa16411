// The field app's case pages: my cases, verify (核实) and inspect (核查).
