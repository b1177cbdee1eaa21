"""Name matching in captions (the basic forms; issue #5 extends the table)."""

import pytest

from consentguard.index import Student
from consentguard.names import find_names, fold

PRIYA = Student("2", "Priya", "Natarajan", False, True)
CHLOE = Student("3", "Chloé", "Fernández", False, True)
OCONNELL = Student("4", "Ethan", "O'Connell", False, True, middle_name="James")
VDB = Student("5", "Isaac", "Van der Berg", False, True)
ALL = [PRIYA, CHLOE, OCONNELL, VDB]


@pytest.mark.parametrize("text,expected", [
    ("Congratulations to Priya Natarajan!", [("2", "Priya Natarajan", "full")]),
    ("PRIYA NATARAJAN wins", [("2", "PRIYA NATARAJAN", "full")]),
    ("well done priya natarajan", [("2", "priya natarajan", "full")]),
    ("Natarajan, Priya (grade 6)", [("2", "Natarajan, Priya", "last_first")]),
    ("Priya Natarajan's project", [("2", "Priya Natarajan's", "full")]),
    ("Chloe Fernandez sang", [("3", "Chloe Fernandez", "full")]),
    ("Chloé Fernández sang", [("3", "Chloé Fernández", "full")]),
    ("Ethan O'Connell and Ethan O’Connell", [("4", "Ethan O'Connell", "full"), ("4", "Ethan O’Connell", "full")]),
    ("Ethan James O'Connell", [("4", "Ethan James O'Connell", "full")]),
    ("Isaac Van der Berg scored", [("5", "Isaac Van der Berg", "full")]),
    ("Priya and Natarajan", []),
    ("Priya N. presented", []),  # first + initial: issue #5
    ("Priyanka Natarajan", []),
    ("", []),
])
def test_find_names(text, expected):
    hits = find_names(text, ALL, "caption")
    assert [(h.student_number, h.text, h.form) for h in hits] == expected
    for h in hits:
        assert text[h.start:h.end] == h.text and h.source == "caption" and h.strength == "block"


def test_fold():
    assert fold("ÉLODIE Søren") == "elodie søren"
