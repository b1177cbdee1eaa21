#!/usr/bin/env python3
"""Write the names corpus: a fictional roster, 200+ captions and 30+ images with expected hits.

    tests/corpus/names/roster.csv     PowerSchool-style export (Name_Opt_Out marks name-restricted)
    tests/corpus/names/captions.tsv   caption <TAB> expected hits ("number:strength" joined by ",")
    tests/corpus/names/images.tsv     file <TAB> where the name is <TAB> text <TAB> expected hits

The captions and the image manifest are committed (reviewable); the images are
rendered from the manifest by ``render_images`` (tests/helpers/names_corpus.py: scripts/evaluate_names.py
and the tests call it) into a cache folder. Run again only to change the corpus.

Usage: python scripts/make_names_corpus.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "names"

# number, first, middle, last, legal first, name-restricted
ROSTER = [
    ("300001", "Maria", "", "Gonzalez", "", True),
    ("300002", "Priya", "", "Natarajan", "", True),
    ("300003", "Chloé", "", "Fernández", "", True),
    ("300004", "Ethan", "James", "O'Connell", "", True),
    ("300005", "Isaac", "", "Van der Berg", "", True),
    ("300006", "Alexandra", "", "Kowalski", "", True),
    ("300007", "Grace", "", "Young", "", True),
    ("300008", "William", "", "Brown", "", True),
    ("300009", "Lena", "", "Smith-Jones", "", True),
    ("300010", "Aoife", "", "St. John", "", True),
    ("300011", "Hope", "", "Miller", "", True),
    ("300012", "Max", "", "Long", "", True),
    ("300013", "Zoë", "", "Nakamura-Reyes", "", True),
    ("300014", "Katherine", "", "Dubois", "", True),
    ("300015", "Jamal", "", "Washington", "", True),
    ("300016", "Mai", "", "Nguyen", "", True),
    ("300017", "Kit", "", "Marsh", "Christopher", True),
    ("300018", "Santiago", "", "Ruiz", "", True),
    # issue #10 (red team): letters of other alphabets, German spellings, hyphens, long names
    ("300019", "Łukasz", "", "Kowalczyk", "", True),
    ("300020", "Søren", "", "Østergaard", "", True),
    ("300021", "Greta", "", "Strauß", "", True),
    ("300022", "Æsa", "", "Bjørnsdóttir", "", True),
    ("300023", "Jürgen", "", "Müller", "", True),
    ("300024", "Hannah", "", "Mueller", "", True),  # the roster without the umlaut
    ("300025", "Noemie", "", "Lefevre", "", True),  # the roster without the accents
    ("300026", "Aaliyah", "", "Al-Sayed", "", True),
    ("300027", "Maximiliano", "", "Villanueva", "", True),
    # permitted students (names that resemble the restricted ones, or are ordinary words)
    ("300101", "Summer", "", "Rose", "", False),
    ("300102", "Chase", "", "Hunter", "", False),
    ("300103", "Faith", "", "Brown", "", False),
    ("300104", "Maria", "", "Lopez", "", False),
    ("300105", "Maria", "", "Santos", "", False),
    ("300106", "Maria", "", "Garcia", "", False),
    ("300107", "Maria", "", "Rossi", "", False),
    ("300108", "Priyanka", "", "Patel", "", False),
    ("300109", "Ethan", "", "Park", "", False),
    ("300110", "Jordan", "", "Whitfield", "", False),
    ("300111", "Sophie", "", "Martin", "", False),
    ("300112", "Liam", "", "O'Brien", "", False),
    ("300113", "Noah", "", "Kim", "", False),
    ("300114", "Oliver", "", "Brown", "", False),
    ("300115", "Isabella", "", "Rossi", "", False),
    ("300116", "Daniel", "", "Cohen", "", False),
    ("300117", "Ethan", "", "Wright", "", False),
    ("300118", "Ethan", "", "Hughes", "", False),
    ("300119", "Isaac", "", "Newton", "", False),
    ("300120", "Isaac", "", "Levi", "", False),
    ("300121", "Isaac", "", "Stern", "", False),
    ("300122", "Jamal", "", "Carter", "", False),
    ("300123", "Kit", "", "Lowe", "", False),
    ("300124", "Maximiliana", "", "Villanueva", "", False),  # one letter from a restricted student
    ("300125", "Hannah", "", "Becker", "", False),
]

# (text, form) templates per restricted student: {F} first, {L} last, {Li} last initial, {Fi} first initial
POSITIVE = [
    ("Congratulations to {F} {L} on winning the science fair!", "block"),
    ("{F} {L}'s painting is in the hallway gallery", "block"),
    ("Spelling bee champion: {L}, {F}", "block"),
    ("Way to go #{H}! #proud", "block"),
    ("{FU} {LU} — MVP of the season", "block"),
    ("Our reading buddy {F} {Li}. read to the kindergarten class", "review"),
    ("Thanks to {F} {L} and the whole choir", "block"),
    ("Well done {Fa} {La}!", "block"),
]
NICKNAME = [
    ("300006", "Alex Kowalski led the robotics team", "review"),
    ("300006", "Sasha Kowalski's poem won", "review"),
    ("300008", "Will Brown scored the winning goal", "review"),
    ("300008", "Bill Brown and friends at camp", "review"),
    ("300014", "Kate Dubois sang the solo", "review"),
    ("300014", "Katie Dubois at the art show", "review"),
    ("300017", "Christopher Marsh (grade 4) at the fair", "block"),
    ("300017", "Chris Marsh painted the mural", "review"),
    ("300009", "Lena Smith ran the relay", "review"),
    ("300009", "Lena Jones ran the relay", "review"),
    ("300004", "Ethan J. O'Connell receives the award", "block"),
    ("300004", "Ethan James O'Connell receives the award", "block"),
    ("300004", "ETHAN OCONNELL", "block"),
    ("300013", "Zoe Nakamura-Reyes and Zoë Nakamura Reyes are the same person", "block"),
    ("300010", "Aoife St. John read her essay", "block"),
    ("300005", "Isaac van der Berg on the drums", "block"),
    ("300002", "Great job Priya!", "review"),
    ("300002", "Priya's science project", "review"),
    ("300018", "Santiago showed the class his volcano", "review"),
    ("300003", "chloe fernandez", "block"),
    ("300002", "P.N. and friends at the book fair", "review"),
    ("300001", "M.G. won the art prize", "review"),
]
# Issue #10: what an independent red team wrote to get a restricted name past the matcher.
RED_TEAM = [
    ("300001", "Congratulations to Ma\u200bria Gonzalez!", "block"),        # zero-width space
    ("300001", "Maria Gon\u00adzalez at the art show", "block"),            # soft hyphen
    ("300002", "Reading corner: \ufeffPriya Natarajan", "block"),           # byte order mark
    ("300001", "Well done M\u0430ria Gonz\u0430lez", "block"),              # Cyrillic а
    ("300002", "Pr\u0131ya Natarajan won the quiz", "block"),               # dotless ı
    ("300002", "\u0420riya Natarajan won the quiz", "block"),               # Cyrillic Р
    ("300014", "Kath\u0435rine Dub\u043eis sang", "block"),                 # Cyrillic е, о
    ("300019", "Lukasz Kowalczyk at the science fair", "block"),
    ("300020", "Soren Ostergaard sang the solo", "block"),
    ("300020", "Soeren Oestergaard sang the solo", "block"),
    ("300021", "Greta Strauss at field day", "block"),
    ("300022", "Aesa Bjornsdottir painted the mural", "block"),
    ("300023", "Jurgen Muller and the chess club", "block"),
    ("300023", "Juergen Mueller and the chess club", "block"),
    ("300024", "Hannah Müller scored twice", "block"),
    ("300025", "Noémie Lefèvre read her poem", "block"),
    ("300026", "So proud of #AaliyahAl-Sayed", "block"),
    ("300026", "#Aaliyah-Al-Sayed at the book fair", "block"),
    ("300027", "Maximilano Villanueva won the chess final", "review"),
    ("300027", "Well done Maximiliano Vilanueva", "review"),
    ("300027", "Maximiliano Villaneuva at the robotics meet", "review"),
    ("300001", "Maria Gonzales at the science fair", "review"),
]
# Captions with no restricted mention: ordinary words that are also names, permitted students,
# shared first names, near misses.
NEGATIVE = [  # (caption, kind): ordinary | permitted | place (a surname that is a place or business) | other-sense
    ("Saying grace before the harvest lunch", "ordinary"),
    ("We hope you will join us for the spring concert", "ordinary"),
    ("Students will present their projects on Friday", "ordinary"),
    ("Give it your max effort!", "ordinary"),
    ("Chase your dreams, class of 2030", "ordinary"),
    ("Keep the faith, team!", "ordinary"),
    ("The rose garden is in full bloom", "ordinary"),
    ("Summer reading list is out", "ordinary"),
    ("Young artists at work", "ordinary"),
    ("A long day at the museum", "ordinary"),
    ("Brown bag lunch with the principal", "ordinary"),
    ("Our school grows in grace and hope", "ordinary"),
    ("It was a long, long summer", "ordinary"),
    ("Max capacity in the gym is 400", "ordinary"),
    ("The young and the brave: our debate team", "ordinary"),
    ("Miller Park field trip", "place"),
    ("Washington, D.C. trip photos", "place"),
    ("Welcome back, Marias and Ethans!", "permitted"),
    ("Maria and Ethan helped set up the stage", "permitted"),
    ("Ethan Park and Ethan Wright at the chess club", "permitted"),
    ("Priyanka Patel won the spelling bee", "permitted"),
    ("Summer Rose sang the anthem", "permitted"),
    ("Chase Hunter scored twice", "permitted"),
    ("Faith Brown and Oliver Brown, siblings at heart", "permitted"),
    ("Jordan Whitfield's science project", "permitted"),
    ("Liam O'Brien and Sophie Martin", "permitted"),
    ("Maria Lopez, Maria Santos and Maria Garcia", "permitted"),
    ("Isaac Newton would be proud of our physics class", "permitted"),
    ("Hope springs eternal at field day", "ordinary"),
    ("Will we see you at the bake sale?", "ordinary"),
    ("Grace under pressure: the relay team", "ordinary"),
    ("A brown dog visited the library", "ordinary"),
    ("The long jump results are in", "ordinary"),
    ("Young authors' night", "ordinary"),
    ("Summer camp sign-ups", "ordinary"),
    ("The choir sang Amazing Grace", "ordinary"),
    ("Keep calm and chase the ball", "ordinary"),
    ("Kindergarten Max and Ruby book week", "ordinary"),
    ("We can't wait to see you in the fall", "ordinary"),
    ("Our new mural brightens the hallway", "ordinary"),
    ("Mrs. Gonzalez's class planted tulips", "place"),  # a teacher's surname alone is not a student
    ("Mr. Young's homeroom", "place"),
    ("Van der Berg Hall opening", "place"),
    ("The Natarajan Foundation donated books", "place"),
    ("St. John's Church hosted the food drive", "place"),
    ("O'Connell Street parade", "place"),
    ("Kowalski Bakery sponsored the fair", "place"),
    ("Dubois Library renovation", "place"),
    ("Nguyen Family Restaurant catered the picnic", "place"),
    ("Marsh walk with the science club", "place"),
    ("Ruiz & Sons donated the lumber", "place"),
    ("Class 4B at the aquarium", "ordinary"),
    ("Thank you, volunteers!", "ordinary"),
    ("Go Eagles!", "ordinary"),
    ("Art show tonight at 6 pm", "ordinary"),
    ("Lunch menu: tacos", "ordinary"),
    ("Spring concert tickets on sale", "ordinary"),
    ("Grades 3-5 field day", "ordinary"),
    ("PTA meeting Tuesday", "ordinary"),
    ("Snow day! Stay safe", "ordinary"),
    ("Robotics team heads to state", "ordinary"),
    ("Hope, Grace and Faith: our three virtues of the month", "ordinary"),
    ("Will and grace are words in our spelling list", "ordinary"),
    ("Bill the class hamster turns two", "other-sense"),
    ("Kate Spade bags at the auction", "other-sense"),
    ("Alex the robot greets visitors", "other-sense"),
    ("Long live the library!", "ordinary"),
    ("Mai is the Vietnamese word for tomorrow", "other-sense"),
    ("Jamal Carter and Isabella Rossi lead the assembly", "permitted"),
    ("Daniel Cohen and Noah Kim at the chess tournament", "permitted"),
    ("Maximiliana Villanueva won the chess final", "permitted"),
    ("Hannah Becker scored twice", "permitted"),
    ("Strauss waltzes at the spring concert", "ordinary"),
    ("The Mueller Report was discussed in civics class", "place"),
    ("Müller yogurt for the picnic", "place"),
    ("Our Villanueva Street mural", "place"),
    ("Villa Nueva is a town in Argentina", "ordinary"),
    ("Maximum effort from the Villanova fans", "ordinary"),
    ("Sorensen Park clean-up", "place"),
]
OCCASIONS = ["the science fair", "field day", "the spring concert", "the book fair", "the art show",
             "the spelling bee", "the robotics meet", "graduation"]
MORE_TEMPLATES = [
    ("{F} {L} at {O}", "block"),
    ("Photos from {O} with {F} {L}", "block"),
    ("{L}, {F} - {O}", "block"),
    ("{F} {Li}. at {O}", "review"),
]


def fold_ascii(text: str) -> str:
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def captions() -> list[tuple[str, str]]:
    rng = random.Random(20261121)
    rows = []
    restricted = [r for r in ROSTER if r[5]]
    for number, first, _, last, _, _ in restricted:
        for template, strength in POSITIVE:
            if "{Li}" in template and first in ("Max", "Hope", "Grace"):
                strength = strength  # capitalised in the template: still counts
            text = template.format(F=first, L=last, Li=last[0], FU=first.upper(), LU=last.upper(),
                                   Fa=fold_ascii(first), La=fold_ascii(last),
                                   H="".join(c for c in first + last if c.isalnum()))
            rows.append((text, f"{number}:{strength}", "mention"))
        for template, strength in rng.sample(MORE_TEMPLATES, 2):
            text = template.format(F=first, L=last, Li=last[0], O=rng.choice(OCCASIONS))
            rows.append((text, f"{number}:{strength}", "mention"))
    rows += [(text, f"{number}:{strength}", "mention") for number, text, strength in NICKNAME]
    rows += [(text, f"{number}:{strength}", "red-team") for number, text, strength in RED_TEAM]
    rows += [(text, "", kind) for text, kind in NEGATIVE]
    return rows


# Images: (file, where, text, expected). where: certificate | tag | slide | jersey | metadata:<kind> | filename
IMAGES = [
    ("cert_maria.png", "certificate", "Certificate of Achievement\nawarded to\nMaria Gonzalez", "300001:block"),
    ("cert_priya.png", "certificate", "Spelling Bee Champion\nPriya Natarajan", "300002:block"),
    ("cert_chloe.png", "certificate", "Outstanding Artist\nChloe Fernandez", "300003:block"),
    ("cert_ethan.png", "certificate", "Perfect Attendance\nEthan O'Connell", "300004:block"),
    ("cert_isaac.png", "certificate", "Music Award\nIsaac Van der Berg", "300005:block"),
    ("cert_grace.png", "certificate", "Citizenship Award\nGrace Young", "300007:block"),
    ("cert_max.png", "certificate", "Math Olympiad\nMax Long", "300012:block"),
    ("cert_jamal.png", "certificate", "Science Fair 1st Place\nJamal Washington", "300015:block"),
    ("cert_negative.png", "certificate", "Certificate of Achievement\nawarded to\nthe Class of 2030", ""),
    ("cert_permitted.png", "certificate", "Reading Champion\nSummer Rose", ""),
    ("tag_priya.png", "tag", "HELLO\nmy name is\nPriya", "300002:review"),
    ("tag_santiago.png", "tag", "HELLO\nmy name is\nSantiago", "300018:review"),
    ("tag_maria.png", "tag", "HELLO\nmy name is\nMaria", ""),  # five Marias: not identifying
    ("tag_grace.png", "tag", "HELLO\nmy name is\nGrace", ""),  # an ordinary word alone
    ("tag_lena.png", "tag", "Lena Smith-Jones\nVolunteer", "300009:block"),
    ("slide_award.png", "slide", "This week's star students\nMai Nguyen and Jordan Whitfield", "300016:block"),
    ("slide_negative.png", "slide", "Welcome to Science Night\nGrace, Hope and Faith Hall", ""),
    ("slide_kate.png", "slide", "Student of the month\nKate Dubois", "300014:review"),
    ("jersey_long.png", "jersey", "LONG\n12", ""),
    ("jersey_full.png", "jersey", "ZOE NAKAMURA-REYES", "300013:block"),
    ("meta_desc.jpg", "metadata:exif-description", "Maria Gonzalez at the science fair", "300001:block"),
    ("meta_usercomment.jpg", "metadata:exif-usercomment", "Priya Natarajan reading", "300002:block"),
    ("meta_xpkeywords.jpg", "metadata:exif-xpkeywords", "fair;Ethan O'Connell", "300004:block"),
    ("meta_iptc.jpg", "metadata:iptc-caption", "Isaac Van der Berg on drums", "300005:block"),
    ("meta_iptc_keywords.jpg", "metadata:iptc-keywords", "Katherine Dubois", "300014:block"),
    ("meta_xmp_subject.jpg", "metadata:xmp-subject", "Jamal Washington", "300015:block"),
    ("meta_person.jpg", "metadata:xmp-person", "Mai Nguyen", "300016:block"),
    ("meta_mwg.jpg", "metadata:mwg-region", "Aoife St. John", "300010:block"),
    ("meta_ms.jpg", "metadata:ms-region", "Santiago Ruiz", "300018:block"),
    ("meta_negative.jpg", "metadata:exif-description", "Spring concert, grace and hope", ""),
    ("maria_gonzalez_award.jpg", "filename", "", "300001:block"),
    ("mgonzalez-science.jpg", "filename", "", "300001:review"),
    ("IMG_2041.jpg", "filename", "", ""),
    ("meta_person_soren.jpg", "metadata:xmp-person", "Soren Ostergaard", "300020:block"),
    ("meta_subject_cyrillic.jpg", "metadata:xmp-subject", "M\u0430ria Gonz\u0430lez", "300001:block"),
    ("meta_desc_typo.jpg", "metadata:iptc-caption", "Maximilano Villanueva at the chess final", "300027:review"),
    ("cert_typo.png", "certificate", "Chess Champion\nMaximilano Villanueva", "300027:review"),
    ("maximilano_villanueva.jpg", "filename", "", "300027:review"),
    ("juergen_mueller_award.jpg", "filename", "", "300023:block"),
    ("Lukasz-Kowalczyk.jpg", "filename", "", "300019:block"),
    ("young_artists.jpg", "filename", "", ""),
]


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    with open(CORPUS / "roster.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Student_Number", "First_Name", "Middle_Name", "Last_Name", "PSCore_Legal_First_Name",
                    "Grade_Level", "SchoolID", "Enroll_Status", "Media_Opt_Out", "Name_Opt_Out"])
        for number, first, middle, last, legal, restricted in ROSTER:
            w.writerow([number, first, middle, last, legal, "4", "1201", "0", "", "Y" if restricted else ""])
    rows = captions()
    with open(CORPUS / "captions.tsv", "w", encoding="utf-8") as f:
        f.write("caption\texpected\tkind\n")
        for text, expected, kind in rows:
            f.write(f"{text}\t{expected}\t{kind}\n")
    with open(CORPUS / "images.tsv", "w", encoding="utf-8") as f:
        f.write("file\twhere\ttext\texpected\n")
        for i, (file, where, text, expected) in enumerate(IMAGES):
            if where != "filename":  # the file name must not carry the name
                file = f"{i + 1:02d}_{where.split(':')[0]}{Path(file).suffix}"
            f.write(f"{file}\t{where}\t{text.replace(chr(10), '|')}\t{expected}\n")
    print(f"wrote {CORPUS}: {len(ROSTER)} students, {len(rows)} captions, {len(IMAGES)} images")


if __name__ == "__main__":
    main()
