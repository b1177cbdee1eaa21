"""Consent model: table-driven readings and combinations."""

from datetime import date

import pytest

from consentguard.roster.consent import CHANNELS, ConsentField, State, combine, merge_consents, read_field, restricted

MEDIA = ConsentField("Media_Opt_Out")                                       # opt-out, photo+name, all
YEARBOOK_PHOTO = ConsentField("No_Yearbook", scopes=("photo",), channels=("yearbook",))
RELEASE = ConsentField("Release", meaning="permission", expires_column="Release_Until")
SYNERGY = ConsentField("Directory Information Release", meaning="permission",
                       true_values=frozenset({"yes, directory release permitted"}),
                       false_values=frozenset({"no, directory release denied"}))
IC = ConsentField("Programs", contains="No Media")
STRICT_BLANK = ConsentField("Photo_OK", meaning="permission", blank="restricted", scopes=("photo",))


@pytest.mark.parametrize("field,value,expires,state,problem", [
    (MEDIA, "Y", None, State(True), None),
    (MEDIA, "no", None, State(False), None),
    (MEDIA, "", None, None, None),
    (MEDIA, "perhaps", None, State(True), "unrecognised Media_Opt_Out value 'perhaps'; treated as restricted"),
    (RELEASE, "Yes", "6/30/2027", State(False, date(2027, 6, 30)), None),
    (RELEASE, "Yes", "2026-06-30", State(False, date(2026, 6, 30)), None),
    (RELEASE, "Yes", "", State(False), None),
    (RELEASE, "Yes", "next June", State(True), "unreadable expiry date 'next June' for Release; treated as restricted"),
    (RELEASE, "No", "6/30/2027", State(True), None),
    (SYNERGY, "Yes, Directory Release Permitted", None, State(False), None),
    (SYNERGY, "No,  Directory Release DENIED", None, State(True), None),
    (SYNERGY, "Yes", None, State(True), "unrecognised Directory Information Release value 'Yes'; treated as restricted"),
    (IC, "Gifted; No Media; ELL", None, State(True), None),
    (IC, "Gifted; ELL", None, None, None),
    (IC, "", None, None, None),
    (STRICT_BLANK, "", None, State(True), None),
])
def test_read_field(field, value, expires, state, problem):
    reading = read_field(field, value, expires)
    assert reading.state == state and reading.problem == problem


def consents(policy, *pairs):
    return combine([(f, read_field(f, v)) for f, v in pairs], policy)


def test_opt_out_blank_permits_and_uncovered_channels_are_permitted():
    c = consents("opt-out", (MEDIA, ""), (YEARBOOK_PHOTO, ""))
    assert not restricted(c, "photo") and not restricted(c, "name")


def test_opt_in_blank_restricts_everything():
    c = consents("opt-in", (MEDIA, ""))
    assert restricted(c, "photo", "website") and restricted(c, "name", "social")


def test_opt_in_release_for_some_channels_only():
    web = ConsentField("Web_Release", meaning="permission", channels=("website",), scopes=("photo",))
    c = consents("opt-in", (web, "Yes"))
    assert not restricted(c, "photo", "website")
    assert restricted(c, "photo", "yearbook") and restricted(c, "name", "website")


def test_channel_restriction_only_on_that_channel():
    c = consents("opt-out", (MEDIA, "N"), (YEARBOOK_PHOTO, "Y"))
    assert restricted(c, "photo", "yearbook")
    assert not restricted(c, "photo", "website") and not restricted(c, "name", "yearbook")
    assert restricted(c, "photo")  # no channel given: any channel counts


def test_most_restrictive_field_wins():
    c = consents("opt-out", (MEDIA, "Y"), (RELEASE, "Yes"))
    assert all(restricted(c, "photo", ch) for ch in CHANNELS)


def test_expired_release_restricts_after_its_date():
    c = combine([(RELEASE, read_field(RELEASE, "Yes", "2027-06-30"))], "opt-in")
    assert not restricted(c, "photo", "social", date(2027, 6, 30))
    assert restricted(c, "photo", "social", date(2027, 7, 1))


def test_merge_duplicates_keeps_restriction_and_earliest_end():
    a = consents("opt-out", (MEDIA, "Y"))
    b = consents("opt-out", (MEDIA, "N"))
    assert restricted(merge_consents(b, a), "photo", "news")
    early = combine([(RELEASE, read_field(RELEASE, "Yes", "2026-06-30"))], "opt-in")
    late = combine([(RELEASE, read_field(RELEASE, "Yes", "2027-06-30"))], "opt-in")
    assert merge_consents(late, early)[("photo", "social")].until == date(2026, 6, 30)
