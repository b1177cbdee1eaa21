#!/usr/bin/env python3
"""Write sample_roster/<preset>/ exports from sample_roster/student.export.csv.

The same 44 fictional students in every SIS format consentguard has a preset
for, so tests can check that each preset reads the same restrictions. Run it
again after editing student.export.csv.
"""

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "sample_roster"
YES = {"y", "yes", "1", "true", "x"}


def students():
    with open(ROOT / "student.export.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            media = row["Media_Opt_Out"].strip().lower() in YES
            row["photo"] = media or row["Photo_Opt_Out"].strip().lower() in YES
            row["name"] = media or row["Name_Opt_Out"].strip().lower() in YES
            yield row


def write(path: Path, header, rows, delimiter=",", lineterminator="\r\n", encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f, delimiter=delimiter, lineterminator=lineterminator)
        if header:
            w.writerow(header)
        w.writerows(rows)


def main():
    rows = list(students())
    # PowerSchool AutoSend: tab, LF, no header, no extension; media opt-out only.
    write(ROOT / "powerschool-autosend" / "student_autosend", None,
          [[r["Student_Number"], r["First_Name"], r["Last_Name"], r["Grade_Level"], r["SchoolID"],
            r["Enroll_Status"], "Y" if r["photo"] and r["name"] else ""] for r in rows],
          delimiter="\t", lineterminator="\n")
    # OneRoster 1.1 and 1.2 users.csv + consent.csv (plus a teacher the 1.1 filter skips).
    for version in ("1.1", "1.2"):
        base = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
                "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
                "agentSourcedIds", "grades", "password"]
        if version == "1.2":
            base = [h for h in base if h not in ("role", "orgSourcedIds")] + [
                "primaryOrgSourcedId", "preferredGivenName", "preferredMiddleName", "preferredFamilyName"]
        users = []
        for r in rows:
            rec = {"sourcedId": f"u-{r['Student_Number']}", "status": "active", "enabledUser": "true",
                   "orgSourcedIds": "org-1201", "primaryOrgSourcedId": "org-1201", "role": "student",
                   "givenName": r["First_Name"], "familyName": r["Last_Name"], "middleName": r["Middle_Name"],
                   "identifier": r["Student_Number"], "grades": r["Grade_Level"].zfill(2)}
            users.append([rec.get(h, "") for h in base])
        if version == "1.1":
            users.append(["t-1", "active", "", "true", "org-1201", "teacher", "", "", "Pat", "Teacher", "", "T1",
                          "", "", "", "", "", ""])
        write(ROOT / f"oneroster-{version}" / "users.csv", base, users, lineterminator="\n")
        write(ROOT / f"oneroster-{version}" / "consent.csv", ["sourcedId", "Media_Opt_Out", "Photo_Opt_Out",
                                                              "Name_Opt_Out"],
              [[f"u-{r['Student_Number']}", r["Media_Opt_Out"], r["Photo_Opt_Out"], r["Name_Opt_Out"]]
               for r in rows], lineterminator="\n")
    # Skyward Qmlativ: photo restriction -> no distribution anywhere (booleans permit).
    write(ROOT / "skyward-qmlativ" / "students.csv",
          ["StudentNumber", "FirstName", "MiddleName", "LastName", "Grade", "EntityCode",
           "AllowMediaDistribution", "AllowPublicDistribution", "AllowDistrictDistribution"],
          [[r["Student_Number"], r["First_Name"], r["Middle_Name"], r["Last_Name"], r["Grade_Level"], "1201"]
           + (["False"] * 3 if r["photo"] or r["name"] else ["True"] * 3) for r in rows])
    # Synergy: directory release labels, Windows-1252 as Excel saves it.
    write(ROOT / "synergy" / "students.csv",
          ["Perm ID", "First Name", "Middle Name", "Last Name", "Grade", "School Code",
           "Directory Information Release"],
          [[r["Student_Number"], r["First_Name"], r["Middle_Name"], r["Last_Name"], r["Grade_Level"], "1201",
            "No, Directory Release Denied" if r["photo"] or r["name"] else
            ("Yes, Directory Release Permitted" if int(r["Student_Number"]) % 2 else "")] for r in rows],
          encoding="cp1252")
    # Infinite Campus: programs list with the "No Media" flag.
    write(ROOT / "infinite-campus" / "students.csv",
          ["Student Number", "First Name", "Middle Name", "Last Name", "Grade", "School Number", "Programs"],
          [[r["Student_Number"], r["First_Name"], r["Middle_Name"], r["Last_Name"], r["Grade_Level"], "1201",
            "; ".join(p for p in ("Gifted" if int(r["Student_Number"]) % 3 == 0 else "",
                                  "No Media" if r["photo"] or r["name"] else "") if p)] for r in rows])


if __name__ == "__main__":
    main()
