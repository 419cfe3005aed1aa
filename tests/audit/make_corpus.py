"""Generate tests/audit/corpus/: good, tampered and garbage certificates for ``mmcert audit``.

Usage (from the repository root)::

    python tests/audit/make_corpus.py            # (re)write tests/audit/corpus/
    python tests/audit/make_corpus.py OUTDIR     # write elsewhere (OUTDIR must be empty or absent)

Every file's expected audit outcome is in ``MANIFEST.json``: the exit code,
the status and a substring of the one-line reason.  Generation is
deterministic (provenance pinned, np.savez stores fixed zip timestamps), so
``tests/audit/test_corpus.py`` regenerates the corpus into a temporary
directory and requires it to be byte-identical to the committed one: a change
of the reference engine's numbers or of the format shows up there, and the
committed corpus must then be regenerated deliberately.

Expected outcomes (clause CERT.3): ``good-*`` audit 0; ``tamper-*`` (a field
changed, digest left alone) audit 1 with a digest mismatch; ``resealed-*``
(a field changed and the digest recomputed, so only re-derivation can tell)
audit 1 naming the claim that no longer holds; ``garbage-*`` audit 2.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # _audit_helpers; tests/ for json_edit, segmentation_votes

from _audit_helpers import FIXED_PROVENANCE, classification_doc, pin, write_doc, write_json  # noqa: E402

from mmcert_verified.certificates.writer import seal, write_segmentation_certificate  # noqa: E402
from json_edit import edited  # noqa: E402
from segmentation_votes import two_class_votes  # noqa: E402

#: the RAVDESS-like setting of the paper (Section 5.1 and Appendix D: n = (108, 79380),
#: k = (5, 1000), N = 100, alpha = 0.001); counts are made up for eight emotions
RAVDESS = dict(counts=[90, 5, 1, 1, 1, 1, 1, 0], alpha="0.001", n=[108, 79380], k=[5, 1000], r=[1, 10])


class _Loud:
    """An object whose unpickling prints a marker: proves the audit never unpickles."""

    def __reduce__(self):
        return (print, ("UNPICKLED-BY-AUDIT",))



def _segmentation(out: Path, manifest: dict) -> None:
    from mmcert_verified.reference.segmentation import segment

    counts, labels = two_class_votes(7, 4, 5, 30, 0.93)
    params = dict(n=[50, 50], k=[1, 1], r=[1, 1], attack=["modify", "modify"], method="mmcert")
    result = segment(counts, "0.01", **params, labels=labels)
    doc = result.to_json()
    doc["engine"] = "reference"
    good = out / "good-segmentation.json"
    write_segmentation_certificate(
        good, counts, labels, alpha_text="0.01", **params, segmented_attack=result.segmented_attack.value,
        r_o=result.r_o, result_json=doc, provenance=FIXED_PROVENANCE,
    )
    # pin the tool version without touching the sidecar reference
    base = pin(json.loads(good.read_text()))
    good.unlink()
    write_doc(good, base)
    manifest["good-segmentation.json"] = (0, "holds", "segmentation")
    side = out / base["inputs"]["votes"]["file"]

    def variant(name: str, doc: dict, votes_bytes: bytes | None, expect) -> None:
        """A copy of the segmentation certificate with its own sidecar (if votes_bytes given), re-sealed."""
        doc = copy.deepcopy(doc)
        if votes_bytes is not None:
            sname = f"{Path(name).stem}.votes.npz"
            (out / sname).write_bytes(votes_bytes)
            doc["inputs"]["votes"]["file"] = sname
        write_json(out / name, seal(doc))
        manifest[name] = expect

    data = side.read_bytes()

    def resealed_votes(doc: dict, votes: bytes) -> dict:
        """The certificate pointing at other sidecar bytes, with their SHA-256 and size, re-sealed."""
        doc = edited(doc, ["inputs", "votes", "sha256"], hashlib.sha256(votes).hexdigest())
        return seal(edited(doc, ["inputs", "votes", "bytes"], len(votes)))

    # claims raised: more certified pixels than the reference finds
    claims = dict(base["claims"], certified_pixels=base["claims"]["certified_pixels"] + 1,
                  abstained_pixels=base["claims"]["abstained_pixels"] - 1)
    variant("resealed-seg-certified-pixels.json", seal(edited(base, ["claims"], claims)), data,
            (1, "fails", "claims.certified_pixels"))
    # claims lowered: a weaker but true claim (what the fast engine may record, clause F.5)
    weaker = dict(base["claims"], certified_pixels=base["claims"]["certified_pixels"] - 1,
                  abstained_pixels=base["claims"]["abstained_pixels"] + 1)
    variant("good-seg-weaker-claims.json", seal(edited(base, ["claims"], weaker)), data, (0, "holds", "weaker"))
    # the sidecar's bytes changed, the certificate left alone
    flipped = bytearray(data)
    flipped[-40] ^= 0xFF
    variant("tamper-seg-sidecar.json", base, bytes(flipped), (1, "fails", "votes file"))
    # other votes in the sidecar, its digest updated in the certificate and re-sealed
    counts2 = counts.copy()
    counts2[:, 0, 0] = counts2[::-1, 0, 0]
    buf = io.BytesIO()
    np.savez(buf, counts=counts2, labels=labels)
    variant("resealed-seg-other-votes.json", resealed_votes(base, buf.getvalue()), buf.getvalue(),
            (1, "fails", "claims."))
    # the sidecar is missing
    variant("garbage-seg-sidecar-missing.json", edited(base, ["inputs", "votes", "file"], "no-such.votes.npz"), None,
            (2, "invalid", "does not exist"))
    # the sidecar path tries to leave the directory
    variant("garbage-seg-sidecar-traversal.json", seal(edited(base, ["inputs", "votes", "file"], "../x.npz")), None,
            (2, "invalid", "inputs.votes.file"))
    # a pickled object array whose unpickling would print a marker; digest matches, re-sealed
    buf = io.BytesIO()
    obj = np.empty(counts.shape, dtype=object)
    obj[...] = 0
    obj[0, 0, 0] = _Loud()
    np.savez(buf, counts=obj, labels=labels)
    variant("garbage-seg-sidecar-pickle.json", resealed_votes(base, buf.getvalue()), buf.getvalue(),
            (2, "invalid", "not a readable .npz"))
    # not a zip at all, digest matches
    junk = b"this is not an npz archive\n"
    variant("garbage-seg-sidecar-not-npz.json", resealed_votes(base, junk), junk, (2, "invalid", "not a readable .npz"))


def _spec_1_1(out: Path, manifest: dict) -> None:
    """Certificates of spec 1.1 (CERT.4 per input, CERT.5 sequential), good and resealed-tampered."""
    from mmcert_verified.bounds.sequential import Schedule, certify_sequential
    from mmcert_verified.certificates.per_input import (
        classification_per_input_certificate,
        write_segmentation_per_input_certificate,
    )
    from mmcert_verified.certificates.sequential import sequential_certificate
    from mmcert_verified.threat_model import Budget, Method, Setting, parse_attacks

    setting = Setting((108, 79380), (5, 1000), Method.MMCERT)
    attack = parse_attacks("modify", 2)
    budgets = [Budget((t, 10 * t), attack) for t in range(4)]
    per_input = pin(classification_per_input_certificate(
        RAVDESS["counts"], "0.001", setting, budgets, [(1, 10), (1, 0)], alpha_text="0.001", samples=100,
        provenance=FIXED_PROVENANCE))
    write_doc(out / "good-per-input.json", per_input)
    manifest["good-per-input.json"] = (0, "holds", "CERTIFIED at 2 of 4 budgets")
    resealed = {
        "resealed-per-input-verdict.json": (["claims", "budgets", 2, "certified"], True, "claims.budgets[2].certified"),
        "resealed-per-input-budget.json": (["inputs", "budgets", 1], [2, 20], "claims.budgets[1]"),
        "resealed-per-input-count.json": (["inputs", "counts"], [89] + RAVDESS["counts"][1:], "inputs.N"),
        "resealed-per-input-radius.json": (["claims", "radii", 0, "t"], 2, "claims.radii[0].t"),
    }
    for name, (path, value, reason) in resealed.items():
        write_json(out / name, seal(edited(per_input, path, value)))
        manifest[name] = (1, "fails", reason)
    write_json(out / "garbage-per-input-spec-1.0.json", seal(edited(per_input, ["spec_version"], "1.0")))
    manifest["garbage-per-input-spec-1.0.json"] = (2, "invalid", "needs spec 1.1")

    # a segmentation input at two budgets, one sidecar
    N = 30
    counts, labels = two_class_votes(11, 3, 4, N, 0.9)  # 12 pixels certified at r = (0, 0), 10 at (1, 1)
    seg_setting = Setting((50, 50), (1, 1), Method.MMCERT)
    good = out / "good-seg-per-input.json"
    write_segmentation_per_input_certificate(
        good, counts, labels, alpha_text="0.01", setting=seg_setting,
        budgets=[Budget((0, 0), attack), Budget((1, 1), attack)], samples=N, provenance=FIXED_PROVENANCE)
    base = pin(json.loads(good.read_text()))
    good.unlink()
    write_doc(good, base)
    manifest["good-seg-per-input.json"] = (0, "holds", "certified pixels 12, 10 of 12")
    raised = copy.deepcopy(base)
    raised["inputs"]["votes"]["file"] = "resealed-seg-per-input-pixels.votes.npz"
    (out / "resealed-seg-per-input-pixels.votes.npz").write_bytes((out / base["inputs"]["votes"]["file"]).read_bytes())
    row = raised["claims"]["budgets"][1]
    row["certified_pixels"] += 1
    row["abstained_pixels"] -= 1
    write_json(out / "resealed-seg-per-input-pixels.json", seal(raised))
    manifest["resealed-seg-per-input-pixels.json"] = (1, "fails", "claims.budgets[1].certified_pixels")

    # adaptive sampling (CS.1) stopped at round 3 of 5: votes of a confident input, drawn deterministically
    def draw(m: int) -> list[int]:
        return [m - m // 25 - m // 50, m // 25, m // 50]

    schedule = Schedule.geometric(25, 400)
    result = certify_sequential(draw, "0.001", schedule, setting, budgets[:3])
    seq = pin(sequential_certificate(result, alpha="0.001", setting=setting, budgets=budgets[:3],
                                     provenance=FIXED_PROVENANCE))
    write_doc(out / "good-sequential.json", seq)
    manifest["good-sequential.json"] = (0, "holds", f"after round {result.round} of 5")
    seq_tampers = {
        # the level a fixed-N bound would use at every round: not CS.1's
        "resealed-sequential-level.json": (["claims", "round_level"], "0.001", "claims.round_level"),
        "resealed-sequential-round.json": (["inputs", "round"], result.round + 1, "inputs.N"),
        "resealed-sequential-verdict.json": (["claims", "budgets", 2, "status"], "open", "claims.budgets[2].status"),
    }
    for name, (path, value, reason) in seq_tampers.items():
        write_json(out / name, seal(edited(seq, path, value)))
        manifest[name] = (1, "fails", reason)


def generate(out: Path) -> dict:
    """Write the corpus into the empty directory ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    manifest: dict[str, tuple[int, str, str]] = {}

    def put(name: str, doc, expect, *, raw: bytes | None = None) -> None:
        if raw is not None:
            (out / name).write_bytes(raw)
        else:
            write_json(out / name, doc)
        manifest[name] = expect

    good = classification_doc(**RAVDESS)
    write_doc(out / "good-classification.json", good)
    manifest["good-classification.json"] = (0, "holds", "CERTIFIED")
    tiny = classification_doc([48, 1, 1], "0.01", [8, 6], [1, 1], [1, 1])
    put("good-tiny-enumerated.json", tiny, (0, "holds", "CERTIFIED"))
    put("good-not-certified.json", classification_doc([40, 30, 30], "0.001", [108, 79380], [5, 1000], [2, 20]),
        (0, "holds", "NOT certified"))
    put("good-ablation.json", classification_doc([95, 3, 2], "1/1000", [108, 79380], [3000], [0, 5], "modify,add",
                                                 "ablation"), (0, "holds", "ablation"))
    put("good-r-zero.json", classification_doc([70, 20, 10], "1e-3", [108, 79380], [5, 1000], [0, 0]),
        (0, "holds", "CERTIFIED"))
    # whitespace and key order do not matter: the digest is over the canonical form
    put("good-reformatted.json", None, (0, "holds", "CERTIFIED"),
        raw=json.dumps(dict(reversed(list(good.items()))), separators=(" ,", " : ")).encode())
    # provenance is not re-derivable: edited and re-sealed, the certificate still holds
    put("good-resealed-provenance.json", seal(edited(good, ["provenance", "seed"], 7)), (0, "holds", "CERTIFIED"))

    # ---- single-field tampers, digest left alone -> 1 (digest mismatch)
    c = good["inputs"]["counts"]
    tampers = {
        "tamper-counts.json": (["inputs", "counts"], [c[0] + 1] + c[1:]),
        "tamper-r.json": (["inputs", "r"], [2, 10]),
        "tamper-n.json": (["inputs", "n"], [109, 79380]),
        "tamper-alpha.json": (["inputs", "alpha"], "0.01"),
        "tamper-certified.json": (["claims", "certified"], False),
        "tamper-p-a-lower.json": (["claims", "p_a_lower"], "0.75"),
        "tamper-radius.json": (["claims", "largest_certified", "t"], 5),
        "tamper-provenance.json": (["provenance", "seed"], 7),
        "tamper-digest.json": (["digest", "value"], "0" * 64),
    }
    for name, (path, value) in tampers.items():
        put(name, edited(good, path, value), (1, "fails", "digest mismatch"))

    # ---- tampers with the digest recomputed -> 1, caught by re-derivation
    not_cert = classification_doc([40, 30, 30], "0.001", [108, 79380], [5, 1000], [2, 20])
    resealed = {
        "resealed-certified-flip.json": (not_cert, ["claims", "certified"], True, "claims.certified"),
        "resealed-r-past-radius.json": (good, ["inputs", "r"], [3, 30], "claims.certified"),
        "resealed-counts.json": (good, ["inputs", "counts"], [80] + c[1:], "claims.N"),
        "resealed-alpha.json": (good, ["inputs", "alpha"], "0.05", "claims.alpha_split"),
        "resealed-p-a-lower.json": (good, ["claims", "p_a_lower"], good["claims"]["p_a_lower"][:-1] + "9",
                                    "claims.p_a_lower"),
        "resealed-radius.json": (good, ["claims", "largest_certified", "t"], 2, "claims.largest_certified.t"),
        "resealed-label.json": (good, ["claims", "label"], 1, "claims.label"),
        "resealed-gap.json": (good, ["claims", "theorem1_gap"], "9.0000000000000000e-1", "claims.theorem1_gap"),
        "resealed-k-exceeds-n.json": (good, ["inputs", "k"], [200, 1000], "do not define a certification"),
        "resealed-attack.json": (good, ["inputs", "attack"], ["delete", "modify"], "claims."),
    }
    for name, (base, path, value, reason) in resealed.items():
        put(name, seal(edited(base, path, value)), (1, "fails", reason))

    # ---- garbage -> 2
    text = (out / "good-classification.json").read_bytes()
    put("garbage-empty.json", None, (2, "invalid", "empty"), raw=b"")
    put("garbage-binary.bin", None, (2, "invalid", "not UTF-8"), raw=bytes(range(256)))
    put("garbage-truncated.json", None, (2, "invalid", "not JSON"), raw=text[: len(text) // 2])
    put("garbage-array.json", [good], (2, "invalid", "not a certificate"))
    put("garbage-bom.json", None, (2, "invalid", "not JSON"), raw=b"\xef\xbb\xbf" + text)
    put("garbage-nan.json", None, (2, "invalid", "NaN"), raw=text.replace(b'"seed": 20240601', b'"seed": NaN'))
    put("garbage-infinity.json", None, (2, "invalid", "Infinity"),
        raw=text.replace(b'"seed": 20240601', b'"seed": -Infinity'))
    put("garbage-float-overflow.json", None, (2, "invalid", "out of range"),
        raw=text.replace(b'"seed": 20240601', b'"seed": 1e999'))
    put("garbage-huge-int.json", None, (2, "invalid", "digits"),
        raw=text.replace(b"\n      90,", b"\n      9" + b"0" * 20000 + b","))
    put("garbage-deep.json", None, (2, "invalid", "nest deeper"), raw=b"[" * 5_000 + b"]" * 5_000)
    put("garbage-deep-in-claims.json", None, (2, "invalid", "nest deeper"),
        raw=text.replace(b'"seed": 20240601', b'"seed": ' + b"[" * 20 + b"]" * 20))
    put("garbage-duplicate-key.json", None, (2, "invalid", "twice"),
        raw=text.replace(b'"certified": true,', b'"certified": false, "certified": true,'))
    put("garbage-counts-string.json", edited(good, ["inputs", "counts"], "90,5,1,1,1,1,1,0"), (2, "invalid", "inputs.counts"))
    put("garbage-count-float.json", edited(good, ["inputs", "counts"], [90.0] + c[1:]), (2, "invalid", "inputs.counts[0]"))
    put("garbage-count-negative.json", edited(good, ["inputs", "counts"], [-1] + c[1:]), (2, "invalid", "inputs.counts[0]"))
    put("garbage-count-bool.json", edited(good, ["inputs", "counts"], [True] + c[1:]), (2, "invalid", "inputs.counts[0]"))
    put("garbage-certified-string.json", edited(good, ["claims", "certified"], "true"), (2, "invalid", "claims.certified"))
    put("garbage-alpha-number.json", edited(good, ["inputs", "alpha"], 0.001), (2, "invalid", "inputs.alpha"))
    put("garbage-alpha-huge-exponent.json", seal(edited(good, ["inputs", "alpha"], "1e-99999999")),
        (2, "invalid", "inputs.alpha"))
    put("garbage-alpha-one.json", seal(edited(good, ["inputs", "alpha"], "1")), (2, "invalid", "inputs.alpha"))
    put("garbage-n-over-cap.json", seal(edited(good, ["inputs", "n"], [108, 10**10])), (2, "invalid", "inputs.n[1]"))
    put("garbage-votes-over-cap.json", seal(edited(good, ["inputs", "counts"], [10**8] + c[1:])),
        (2, "invalid", "inputs.counts[0]"))
    put("garbage-mass-too-large.json",
        seal(edited(edited(good, ["inputs", "n"], [10**9, 10**9]), ["inputs", "k"], [10**6, 10**6])),
        (2, "invalid", "audit limit"))
    missing = copy.deepcopy(good)
    del missing["claims"]["certified"]
    put("garbage-missing-member.json", missing, (2, "invalid", "missing member 'certified'"))
    put("garbage-unknown-member.json", edited(good, ["claims", "certified_against"], "everything"),
        (2, "invalid", "unknown member"))
    put("garbage-schema-version.json", edited(good, ["schema_version"], 2), (2, "invalid", "schema_version"))
    put("garbage-spec-version.json", edited(good, ["spec_version"], "0.9"), (2, "invalid", "spec"))
    put("garbage-no-format.json", {k: v for k, v in good.items() if k != "format"}, (2, "invalid", "not an mmcert"))
    put("garbage-kind.json", edited(good, ["kind"], "regression"), (2, "invalid", "kind"))
    put("garbage-digest-algorithm.json", edited(good, ["digest", "algorithm"], "md5"), (2, "invalid", "digest.algorithm"))
    put("garbage-attack-name.json", edited(good, ["inputs", "attack"], ["modify", "explode"]),
        (2, "invalid", "inputs.attack[1]"))
    put("garbage-control-chars.json", edited(good, ["inputs", "method"], "mmcert\n\x1b[31mHOLDS"),
        (2, "invalid", "inputs.method"))

    _segmentation(out, manifest)
    _spec_1_1(out, manifest)
    doc = {name: {"exit": e, "status": s, "reason": r} for name, (e, s, r) in sorted(manifest.items())}
    (out / "MANIFEST.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return doc


def main(argv: list[str]) -> int:
    if argv:
        out = Path(argv[0])
    else:
        out = HERE / "corpus"
        if out.exists():
            shutil.rmtree(out)
    generate(out)
    print(f"wrote {len(list(out.iterdir()))} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
