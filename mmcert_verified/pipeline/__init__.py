"""The pipeline: a torch model and its inputs -> votes -> verdicts -> run files and certificates.

* :mod:`.certifier` -- wrap a model: sub-sample, vote, certify in memory (V1, CS.2);
* :mod:`.training` -- train a base model with the ablation its ensemble uses;
* :mod:`.planning` -- predict certified accuracy per (k, N, bound) from calibration votes (PLAN.1);
* :mod:`.runs` -- data-set runs: config, identity, run file, execute, merge, launch (RUN.*).
"""
