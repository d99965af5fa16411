"""My cases, and the verify (核实) and inspect (核查) tasks on site."""

urlpatterns: list = []
