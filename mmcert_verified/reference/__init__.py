"""The exact reference engine: big integers and mpmath; slow, trusted (spec clauses CP, T1, R1, SEG)."""
