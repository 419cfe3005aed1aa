"""Certificates: the sealed JSON files a certification writes and ``mmcert audit`` re-derives (spec CERT).

Data flows one way, result -> certificate -> audit (``tests/audit/test_spec_versions.py`` checks it):

* :mod:`.format` -- the format's names, limits, spec versions, text forms and digest (CERT.1, CERT.2, CERT.7);
* :mod:`.reader` -- defensive reading and structure validation (never the writer);
* :mod:`.writer` -- classification and segmentation certificates (CERT.1, CERT.2, CERT.6);
* :mod:`.per_input` -- one certificate per input over all its budgets (CERT.4);
* :mod:`.sequential` -- certificates of adaptive (sequential) sampling (CERT.5);
* :mod:`.audit` -- re-derivation of every claim with the reference engine (CERT.3).
"""
