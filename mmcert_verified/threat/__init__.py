"""The threat model's parts: one class per attack (`attacks`) and per sub-sampling scheme (`schemes`).

`mmcert_verified.threat_model` builds the settings, budgets and attacked sizes (clauses S1-S4) from them;
adding an attack or a scheme is a new class here and one registry line (docs/architecture.md).
"""
