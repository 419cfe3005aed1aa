"""`mmcert segment` contract (issue #3): JSON fields, batch layout, errors as one line with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmcert_verified.cli import main


@pytest.fixture
def files(tmp_path):
    na = np.array([[100, 99, 97, 60], [100, 100, 95, 55], [98, 100, 90, 50]])
    counts = np.stack([100 - na, na])
    labels = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    np.save(tmp_path / "c.npy", counts)
    np.save(tmp_path / "l.npy", labels)
    np.save(tmp_path / "cb.npy", np.stack([counts, counts]))
    np.save(tmp_path / "lb.npy", np.stack([labels, labels]))
    return tmp_path


BASE = ["--alpha", "0.001", "--n", "12,12", "--k", "3,2", "--r", "1,1", "--attack", "modify"]


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_json_fields(files, capsys, engine):
    rc = main(["segment", "--counts", str(files / "c.npy"), "--labels", str(files / "l.npy"), *BASE, "--json", "--engine", engine])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    # values from docs/segmentation.md (hand-derived)
    assert doc["certified_pixels"] == 5 and doc["abstained_pixels"] == 7
    assert doc["pixel_accuracy"] == 5 / 12
    assert doc["per_class"]["f_score"] == [0.0, 10 / 17] and len(doc["per_class"]["iou"]) == 2
    assert {"f_score", "iou"} <= doc.keys()


def test_batch_and_mask(files, capsys):
    mask = files / "mask.npy"
    rc = main(["segment", "--counts", str(files / "cb.npy"), "--labels", str(files / "lb.npy"), *BASE, "--json",
               "--mask-out", str(mask)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(doc["images"]) == 2 and doc["certified_pixels"] == 10
    assert doc["pixel_accuracy"] == 5 / 12
    m = np.load(mask)
    assert m.shape == (2, 3, 4) and m.dtype == bool and int(m.sum()) == 10
    # never overwrite
    before = mask.read_bytes()
    assert main(["segment", "--counts", str(files / "cb.npy"), *BASE, "--mask-out", str(mask)]) == 2
    assert mask.read_bytes() == before


@pytest.mark.parametrize(
    "extra",
    [
        ["--counts", "missing.npy"],
        ["--counts", "{bad_float}"],
        ["--counts", "{c}", "--labels", "{bad_labels}"],
        ["--counts", "{c}", "--labels", "{not_npy}"],
        ["--counts", "{c}", "--segmented-attack", "delete", "--r-o", "1"],
        ["--counts", "{c}", "--r-o", "1"],
    ],
)
def test_bad_input_one_line_exit_2(files, capsys, extra):
    np.save(files / "f.npy", np.ones((2, 3, 4)))
    np.save(files / "bl.npy", np.full((3, 4), 7))
    (files / "x.npy").write_text("not an array")
    sub = {"{bad_float}": str(files / "f.npy"), "{c}": str(files / "c.npy"), "{bad_labels}": str(files / "bl.npy"),
           "{not_npy}": str(files / "x.npy")}
    extra = [sub.get(x, x) for x in extra]
    rc = main(["segment", *BASE, *extra])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_bound_complement(files, capsys, engine):
    # issue 14: `mmcert segment --bound complement` certifies with CP.6's bounds per pixel (SEG.1); the
    # counts are the library's (reference engine, same method), and the JSON gains bound / alpha_split
    from mmcert_verified.reference.segmentation import segment

    rc = main(["segment", "--counts", str(files / "c.npy"), *BASE, "--json", "--engine", engine,
               "--bound", "complement"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    want = segment(np.load(files / "c.npy"), "0.001", [12, 12], [3, 2], [1, 1], "modify", bound="complement")
    assert doc["certified_pixels"] == want.to_json()["certified_pixels"]
    assert doc["bound"] == "complement" and doc["alpha_split"]["rule"] == "complement"
    assert doc["alpha_split"]["parts"] == 2
    rc = main(["segment", "--counts", str(files / "c.npy"), *BASE, "--json", "--engine", engine])
    default = json.loads(capsys.readouterr().out)
    assert rc == 0 and "bound" not in default and "alpha_split" not in default  # the default output is unchanged
    rc = main(["segment", "--counts", str(files / "c.npy"), *BASE, "--engine", engine, "--bound", "combined"])
    assert rc == 0 and "bound combined" in capsys.readouterr().out


def test_bound_with_out_is_recorded_and_audits(files, capsys):
    # CP.5 / CERT.6: the certificate of `segment --bound complement --out` records the method
    # (claims.alpha_split.rule) and `mmcert audit` re-derives it with that method
    out = files / "cert.json"
    rc = main(["segment", "--counts", str(files / "c.npy"), *BASE, "--bound", "complement", "--out", str(out)])
    capsys.readouterr()
    assert rc == 0
    cert = json.loads(out.read_text())
    assert cert["claims"]["alpha_split"]["rule"] == "complement"
    assert main(["audit", str(out)]) == 0
