"""The measurement scripts run and print what their docs promise (small inputs)."""

import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.faces


def test_evaluate_on_group_photo(face_roster, faces, tmp_path):
    from consentguard.faces import detect_faces
    from consentguard.image import load_image

    boxes = sorted(detect_faces(load_image(faces.group).rgb), key=lambda f: f.box[0])
    rows = ["photo,student_number,left,top,right,bottom"]
    for f in boxes:
        centre = (f.box[0] + f.box[2]) / 2
        who = "900001" if faces.restricted_x[0] <= centre <= faces.restricted_x[1] else ""
        rows.append(f"{faces.group.name},{who},{','.join(map(str, f.box))}")
    rows.append(f"{faces.stranger.name},,")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "photos").mkdir()
    for p in (faces.group, faces.stranger):
        (tmp_path / "photos" / p.name).write_bytes(p.read_bytes())
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(tmp_path / "photos"),
                          str(tmp_path / "m.csv"), "--db", str(face_roster)],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["all", "1", "100.0%", "100.0%"]
    assert f"false block" in lines[0] and lines[1].split()[-1] == "0.0%"
    assert out.rstrip().endswith("review rate: 0.0% of 1 photos without a restricted student")


def test_calibrate_groups_on_a_few_people(tmp_path):
    lfw = ROOT.parent / "shared" / "faces" / "lfw"
    if not lfw.is_dir():
        pytest.skip("needs ../shared/faces/lfw")
    script, cache = str(ROOT / "scripts" / "calibrate_groups.py"), str(tmp_path / "enc.npz")
    subprocess.run([sys.executable, script, "--encode", "--people", "12", "--cache", cache], check=True,
                   capture_output=True)
    rates = subprocess.run([sys.executable, script, "--cache", cache], capture_output=True, text=True,
                           check=True).stdout
    assert "same linked  different linked" in rates and "  0.50 " in rates
    event = subprocess.run([sys.executable, script, "--cache", cache, "--event", "--on-tuning-half"],
                           capture_output=True, text=True, check=True).stdout
    assert "decisions staff must make" in event and "events with a restricted face in a passed photo" in event
