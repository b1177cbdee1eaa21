"""The command line: a thin layer over the library API.

Data goes to stdout, messages to stderr. Library errors become one-line
``Error: …`` messages with exit status 1; usage errors exit 2; ``check``
exits 4 if any photo is blocked, else 3 if any needs review or had an error.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from consentguard import __version__
from consentguard.errors import ConsentGuardError
from consentguard.policy import RESTRICTED_INDEX_COST, SETTINGS, Policy, setting_help
from consentguard.roster.consent import CHANNELS
from consentguard.store.db import default_db_path, os_user


class Group(click.Group):
    """Turns consentguard's own errors into one-line messages (exit 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConsentGuardError as exc:
            raise click.ClickException(str(exc)) from exc


def db_option(f):
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), envvar="CONSENTGUARD_DB",
        help="Database file (env CONSENTGUARD_DB; default: the per-user consentguard folder).")(f)


def channel_option(f):
    return click.option("--channel", type=click.Choice(CHANNELS),
                        help="Where the photos will be published; default: a restriction on any channel counts.")(f)


def school_option(f):
    return click.option("--school", metavar="SCHOOL_ID",
                        help="The school the photos are from (its ID in the export). Faces too small, "
                             "blurred or covered to judge then go to review only if that school has "
                             "photo-restricted students; matching still uses the whole roster.")(f)


def ocr_option(f):
    return click.option("--no-ocr/--ocr", "no_ocr", default=None,
                        help="--no-ocr: do not read the text inside photos (faster; names on certificates, name "
                             "tags and slides are then not checked). --ocr: read it even if a saved setting "
                             "turned it off.")(f)


def ocr_choice(no_ocr: bool | None) -> bool | None:
    """The ``ocr`` setting the --no-ocr/--ocr option asks for (None: neither given, the saved one holds)."""
    return None if no_ocr is None else not no_ocr


def thorough_option(f):
    return click.option("--thorough", is_flag=True, help=setting_help("detect_mode"))(f)


def open_database(db_path: Path | None, create: bool = True):
    from consentguard.store.db import open_db
    return open_db(db_path, create=create)


def policy_for(db, **options) -> Policy:
    """The policy a command runs with: its options (None: not given) over the saved settings
    ('consentguard config') over the defaults. A bad option is a usage error (exit 2)."""
    from consentguard.store.settings import policy_in_force, saved_values

    Policy.saved(saved_values(db))  # a saved value refused: its own one-line error (exit 1)
    try:
        return policy_in_force(db, **options)
    except ValueError as exc:  # an option refused with the saved settings (block_distance above review_distance)
        raise click.BadParameter(str(exc)) from exc


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="consentguard")
def cli():
    """Stop school photos that show or name a student whose guardian refused media release.

    \b
    Typical use:
      consentguard sync student.export.csv --photos portraits/
      consentguard check draft.jpg --caption "Our science fair winners"
    """


@cli.command()
@click.argument("export", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--photos", type=click.Path(path_type=Path),
              help="Portraits: a folder (<Student_Number>.jpg, <Student_Number>_2024.jpg, ...), "
                   "a zip of them, or PowerSchool's tab-delimited photo map file.")
@click.option("--preset", default="powerschool", show_default=True,
              help="Built-in export layout (see 'consentguard sync --list-presets').")
@click.option("--mapping", "mapping_file", type=click.Path(dir_okay=False, path_type=Path),
              help="District mapping file (TOML); overrides --preset.")
@click.option("--consent", "consent_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Consent CSV joined to the export (OneRoster presets).")
@click.option("--check-config", is_flag=True,
              help="Only validate the mapping (and the export's header and values, if given); change nothing.")
@click.option("--list-presets", is_flag=True, help="List the built-in presets and exit.")
@click.option("--accept-drop", is_flag=True,
              help="Import even if many students or restricted students disappear or lose restrictions, "
                   "or a consent column read by the last sync is missing.")
@click.option("--index", "index_policy", type=click.Choice(["restricted", "all"]), default=None,
              help="Whose portraits are encoded. all (the default for a new database): every student's, so a "
                   "face recognised as a permitted student is cleared as them. restricted (the privacy "
                   "option): photo-restricted students' only, storing the least biometric data, at a cost: "
                   f"{RESTRICTED_INDEX_COST}. Without --index a sync keeps the last sync's policy. Opt-in mappings always "
                   "index all students. See README, 'Which faces to index'.")
@click.option("--json", "as_json", is_flag=True, help="Print the sync report as JSON.")
@db_option
def sync(export, photos, preset, mapping_file, consent_file, check_config, list_presets, accept_drop,
         index_policy, as_json, db_path):
    """Import an SIS export (and portraits) as the roster in force.

    All or nothing: a refused or failed sync changes nothing (it is kept in
    the history), and a student missing from the export keeps every
    restriction they had. Exit status 1 when refused or failed; 3 when done
    but protection is weaker (a photo-restricted student has no usable
    portrait): a monitor can alert on any non-zero status.

    Example: consentguard sync student.export.csv --photos portraits/
    """
    from consentguard.roster.mapping import load_mapping, load_preset, presets
    if list_presets:
        click.echo("\n".join(presets()))
        return
    mapping = load_mapping(mapping_file) if mapping_file else load_preset(preset)
    if check_config:
        click.echo(describe_mapping(mapping.with_policy_guards(_saved_or_default(db_path))))
        if export:
            from consentguard.roster.export import read_export
            roster = read_export(export, mapping, consent_file)
            click.echo(f"{export}: {len(roster.records)} students readable ({roster.encoding}), "
                       f"{sum(r.photo_restricted for r in roster.records.values())} photo-restricted, "
                       f"{sum(r.name_restricted for r in roster.records.values())} name-restricted, "
                       f"{len(roster.problems)} problem(s)")
            for problem in roster.problems:
                click.echo(f"  - {problem}")
        return
    if export is None:
        raise click.UsageError("Missing argument 'EXPORT'.")
    from consentguard.roster.sync import sync_roster
    db = open_database(db_path)
    report = sync_roster(db, export, photos, policy=policy_for(db), mapping=mapping, accept_drop=accept_drop,
                         consent=consent_file, index_policy=index_policy)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.summary())
    if report.weaker:
        click.echo(f"Warning: sync done, but protection is weaker: {report.weaker}", err=True)
        sys.exit(3)


def _saved_or_default(db_path: Path | None) -> Policy:
    """The saved settings of the database if there is one (a mapping is checked before the first sync)."""
    from consentguard.errors import DatabaseError
    try:
        db = open_database(db_path, create=False)
    except DatabaseError:
        return Policy()
    return policy_for(db)


def describe_mapping(mapping) -> str:
    lines = [f"mapping '{mapping.name}' from {mapping.source} is valid",
             f"  policy: {mapping.policy} ({'blank = permitted' if mapping.policy == 'opt-out' else 'only a current release permits'})",
             f"  file: {'header row' if mapping.header else 'no header, positional columns'}",
             "  columns: " + ", ".join(f"{k}={v}" for k, v in mapping.columns.items())]
    for f in mapping.consent:
        lines.append(f"  consent {f.label}: {'yes refuses' if f.meaning == 'opt-out' else 'yes permits'} "
                     f"{'+'.join(f.scopes)} on {', '.join(f.channels)}"
                     + (f", expires per {f.expires_column}" if f.expires_column is not None else "")
                     + ("" if f.required else " (optional)"))
    g = mapping.guards
    lines.append(f"  guards: refuse if > {g.max_drop_students:.0%} of students or "
                 f"> {g.max_drop_restricted:.0%} of restricted students drop "
                 f"(drops of fewer than {g.min_drop_count} students never refuse)")
    return "\n".join(lines)


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--caption", help="The draft caption or post text to check for restricted names.")
@click.option("--caption-file", type=click.File("r", encoding="utf-8"),
              help="Read the caption from a file ('-' for stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (see README).")
@channel_option
@school_option
@thorough_option
@ocr_option
@click.option("--block-distance", type=float, help=setting_help("block_distance"))
@click.option("--review-distance", type=float, help=setting_help("review_distance"))
@click.option("--people", metavar='"NAME; NAME"',
              help="Who is shown, as staff know it (one photo at a time): names as on the roster, or student "
                   "numbers (#100104). Declared photo-restricted students block; more faces than people "
                   "declared is a review; with face recognition off, faces no more than the declared "
                   "permitted people pass as them. Declaring never clears a face matched to a student.")
@db_option
def check(images, caption, caption_file, as_json, channel, school, thorough, no_ocr, block_distance,
          review_distance, people, db_path):
    """Check photos (and a caption): pass, review, block or error for each.

    Several photos are decided together, as a scan decides its folder: faces
    of one person across them are judged once, and the decisions staff must
    make are listed after the photos (review_items in --json).

    Exit status: 4 if any photo is blocked, 3 if any needs review or could
    not be read, 0 if all pass.

    Example: consentguard check IMG_0412.jpg --caption "Maria at the fair"
    """
    from consentguard.decide import exit_status
    from consentguard.output.report import human, json_document
    from consentguard.runners.check import Checker

    if caption_file is not None:
        caption = (caption + "\n" if caption else "") + caption_file.read()
    options = {"block_distance": block_distance, "review_distance": review_distance,
               "detect_mode": "thorough" if thorough else None, "ocr": ocr_choice(no_ocr)}
    try:
        Policy().with_(**options)  # the options alone: a usage error before anything is opened
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if people is not None and len(images) != 1:
        raise click.UsageError("--people says who is shown in one photo: check one photo at a time with it")
    db = open_database(db_path, create=False)
    checker = Checker(db, policy_for(db, **options), channel=channel, school=school)
    declared = checker.declared(people) if people is not None else []
    results = [checker.check_path(image, caption, record=False) for image in images]
    for result in results:
        if result.evidence is not None:
            result.evidence.declared = declared
    items = checker.decide_together(results)  # one person judged once across the photos; audited once each
    if checker.record:
        from consentguard.review import save_items
        save_items(checker.db, items)
    if as_json:
        click.echo(json_document(results, warnings=checker.warnings, review_items=[i.to_json() for i in items]))
    else:
        click.echo(human(results))
        click.echo("\n".join(review_lines(items)), nl=bool(items))
    for warning in checker.warnings:
        click.echo(f"Warning: {warning}", err=True)
    sys.exit(exit_status(r.verdict for r in results))


def review_lines(items) -> list[str]:
    """The review items of a check or scan, one line each with its id (for 'consentguard review')."""
    if not items:
        return []
    return [f"{len(items)} decision{'s' if len(items) != 1 else ''} for staff:"] + [
        f"  [{item.id}] {item.summary}" for item in items]


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@channel_option
@school_option
@thorough_option
@ocr_option
@click.option("--workers", type=int, help="Worker processes (default: one per core).")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Who checks the photos: worker processes on this machine, or Ray actors (needs "
                   "'consentguard[cluster]'; docs/cluster.md). Results, cache and audit stay in this database.")
@click.option("--ray-address", envvar="RAY_ADDRESS", metavar="ADDRESS",
              help="A running Ray cluster (host:port; env RAY_ADDRESS). Without it: Ray in local mode on "
                   "--workers cores.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (as for check) to stdout.")
@click.option("--json-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON document to a file (kept up to date while the scan runs).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a CSV report.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report with thumbnails and face boxes.")
@click.option("--copy-passed", type=click.Path(file_okay=False, path_type=Path),
              help="Copy the photos that passed here (same sub-folders).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@db_option
def scan(folder, channel, school, thorough, no_ocr, workers, engine, ray_address, as_json, json_file, csv_path, html_path, copy_passed,
         quiet, db_path):
    """Check every photo in a folder tree (JPEG, PNG, WebP, TIFF, HEIC) on all cores.

    Results are cached by file content, roster run and settings: an
    interrupted scan (Ctrl-C) run again resumes. Once every photo is checked,
    the folder is decided together (a person is judged once across the
    photos, staff decisions in force apply, also to cached photos) and the
    decisions staff must make are listed (review_items in the JSON). Report files are written at
    the start and kept up to date; until the scan finishes they say at the top
    that they are incomplete. Anything not checked (hidden or linked folders,
    unreadable folders, FIFOs, devices) is listed. Exit status as for check
    (3 when something was not checked); 130 if interrupted (143 on SIGTERM,
    129 on SIGHUP).

    Example: consentguard scan /photos/2026-spring-concert --html report.html
    """
    from consentguard.decide import exit_status
    from consentguard.output.report import ScanReports, scan_document, scan_lines
    from consentguard.runners.scan import copy_passed_photos, find_photos, run_scan

    if engine == "ray":
        from consentguard.runners.cluster import RayMissing, require_ray
        try:
            require_ray()
        except RayMissing as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
    db_path = db_path or default_db_path()
    db = open_database(db_path, create=False)
    policy = policy_for(db, detect_mode="thorough" if thorough else None, ocr=ocr_choice(no_ocr))
    found = find_photos(folder)
    reports = ScanReports(csv_path, html_path, json_file, f"consentguard scan of {folder}")
    with click.progressbar(length=len(found.photos), label="checking", file=sys.stderr,
                           show_pos=True, hidden=quiet or not found.photos) as bar:
        result = run_scan(db, str(db_path), folder, policy, channel, workers, bar.update, found, school, reports,
                          engine, ray_address)
    if copy_passed and not result.interrupted:
        result.skipped += copy_passed_photos(result, copy_passed)  # changed since checked: listed, never copied
    if reports:
        reports.write(result)
    click.echo(scan_document(result) if as_json else "\n".join(scan_lines(result) + review_lines(result.review_items)))
    if result.interrupted:
        click.echo(f"interrupted: {len(result.results)} of {result.total} photos checked; run the same command "
                   "again to resume", err=True)
        sys.exit(128 + result.exit_signal)
    sys.exit(exit_status([r.verdict for r in result.results], not_checked=len(result.skipped)))


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the safe copy (.jpg, .png or .webp; of a video: .mp4, .m4v or .mov).")
@click.option("--caption", help="The draft caption: its scrubbed version is printed.")
@channel_option
@school_option
@thorough_option
@ocr_option
@db_option
def redact(image, out, caption, channel, school, thorough, no_ocr, db_path):
    """Write a safe copy of a photo: faces that did not pass (and restricted names
    read in it) pixelated and blurred beyond recognition, all metadata (EXIF with
    GPS, IPTC, XMP) removed. The photo is checked first, as by check.

    A video clip is checked too, then copied frame by frame (H.264): every face that
    did not pass is blurred in every frame it is in, and so is every face a search of
    each frame finds that the check did not pass; the sound is kept, all metadata
    removed. A clip not read whole or not decodable gets no copy.

    Example: consentguard redact IMG_0412.jpg --out IMG_0412.safe.jpg

    Example: consentguard redact concert.mp4 --out concert.safe.mp4
    """
    from consentguard.inspect.image import read_file
    from consentguard.inspect.video import is_video
    from consentguard.output.redact import areas_to_hide, output_format, safe_copy
    from consentguard.output.redact_video import output_format as video_format
    from consentguard.runners.check import Checker

    fmt = video_format(str(out)) if is_video(image) else output_format(str(out))
    db = open_database(db_path, create=False)
    policy = policy_for(db, detect_mode="thorough" if thorough else None, ocr=ocr_choice(no_ocr))
    checker = Checker(db, policy, channel=channel, school=school, interface="redact")
    if is_video(image):
        return redact_clip(checker, image, out, caption)
    result, decoded = checker.check_decoded(read_file(image), str(image), caption)
    if decoded is None:
        raise click.ClickException(result.reasons[0])
    doc = result.to_json()
    out.write_bytes(safe_copy(decoded.rgb, doc, fmt, policy.redact_grow))
    hidden = areas_to_hide(doc)
    click.echo(f"{result.verdict.upper():<6}  {image}: {len(hidden)} area{'s' if len(hidden) != 1 else ''} hidden, "
               f"all metadata removed -> {out}")
    for reason in result.reasons:
        click.echo(f"        - {reason}")
    if result.scrubbed_caption is not None:
        click.echo(f"caption without restricted names: {result.scrubbed_caption}")


def redact_clip(checker, clip: Path, out: Path, caption: str | None) -> None:
    """The video half of ``redact``: check the clip (recorded in the audit trail as a photo's
    redaction is), write its safe copy, and say what was hidden and when."""
    from consentguard.inspect.video import clock
    from consentguard.output.redact_video import redact_video

    result = checker.check_video(clip, caption)
    done = redact_video(clip, out, result.to_json(), checker.policy)
    click.echo(f"{result.verdict.upper():<6}  {clip}: safe copy of {clock(done.duration)} ({done.frames} frames; "
               f"sound: {', '.join(done.sound) or 'none'}), all metadata removed -> {out}")
    for line in hidden_lines(done):
        click.echo(f"        hidden: {line}")
    for reason in result.reasons:
        click.echo(f"        - {reason}")
    if result.scrubbed_caption is not None:
        click.echo(f"caption without restricted names: {result.scrubbed_caption}")


def hidden_lines(done) -> list[str]:
    """What a video's safe copy hid: the tracks by verdict, the faces only the per-frame search found."""
    from consentguard.inspect.video import clock

    def when(spans) -> str:
        return ", ".join(f"{clock(a)}-{clock(b)}" for a, b in spans)

    lines = [f"{len(spans)} face{'s' if len(spans) != 1 else ''} with verdict {verdict} ({when(spans)})"
             for verdict, spans in sorted(done.tracks.items())] or ["no face the check judged (none did not pass)"]
    found = done.found_only_spans
    lines.append(f"faces found only by the per-frame search, in {len(done.found_only)} frames ({when(found)})"
                 if found else "no other face found by the per-frame search")
    if done.names:
        lines.append(f"{done.names} restricted name{'s' if done.names != 1 else ''} read in the frames")
    return lines


@cli.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--channel", required=True, type=click.Choice(CHANNELS), help="Where it was published.")
@click.option("--on", "posted_on", metavar="YYYY-MM-DD", help="The day it was published (default today).")
@click.option("--where", metavar="URL", help="The page, account or issue it is in.")
@db_option
def posted(photos, channel, posted_on, where, db_path):
    """Mark photos (or clips, or every photo in a folder of published material) as
    published, so 'consentguard recheck' can list them for taking down when a student
    in them is restricted later. Each photo's latest check must have passed or been
    released by an override; the mark is an audit event. A photo that cannot be marked
    is named with the reason, the others are marked (exit 1 if any could not be).

    Example: consentguard posted IMG_0412.jpg --channel website --where https://school.example/news/fair
    """
    from consentguard.runners.recheck import PostError, mark_posted, published_files

    db = open_database(db_path, create=False)
    refused = 0
    for photo in published_files(photos):
        try:
            event = mark_posted(db, photo, channel, posted_on, where)
        except PostError as exc:
            refused += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        click.echo(f"posted  {photo}: on {channel}{f' at {where}' if where else ''} (audit #{event})")
    sys.exit(1 if refused else 0)


@cli.command()
@click.option("--search", "search", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder to look for photos that were moved (found by their content). Repeatable.")
@click.option("--keep-copies", type=click.Path(file_okay=False, path_type=Path),
              help="Keep each affected original with its caption and reasons here (0700; files 0600).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the takedown list as CSV.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the takedown list as a self-contained HTML page.")
@db_option
def recheck(search, keep_copies, as_json, csv_path, html_path, db_path):
    """After a sync: find photos and captions that were let out (passed, or released by an
    override) and now show or name a student restricted since (or whose release ended,
    or whose first usable portrait came later). Only those students are looked for;
    photos are re-read where they were checked or posted (or found under --search);
    a photo that cannot be found is listed, never dropped. Newest posts first.

    Exit status: 4 if anything shows or names a newly restricted student, 3 if
    something could not be re-checked (file missing or changed), 0 if nothing (or
    everything listed was marked taken down on the page since it was posted).

    Example: consentguard recheck --search /srv/website/photos --html takedown.html
    """
    from consentguard.output.report import takedown_csv, takedown_html, write_atomic
    from consentguard.runners.recheck import AFFECTED
    from consentguard.runners.recheck import recheck as run

    db = open_database(db_path, create=False)
    report = run(db, policy_for(db), search, keep_copies)
    doc = report.to_json()
    if csv_path:
        takedown_csv(doc, csv_path)
    if html_path:
        write_atomic(html_path, takedown_html(doc))
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for f in report.findings:
            where = "; ".join(f"{p.get('channel')} {p.get('on')}" + (f" {p['where']}" if p.get("where") else "")
                              for p in f.posted) or "not marked as posted"
            label = "TAKEN DOWN" if f.taken_down else "TAKE DOWN" if f.status == AFFECTED else "UNKNOWN"
            done = f"; taken down {f.taken_down['at'][:10]} by {f.taken_down['by']}" if f.taken_down else ""
            click.echo(f"{label:<10}  {f.path or f.to_json()['path']} (check #{f.check['id']}, {where}{done})")
            for reason in f.because:
                click.echo(f"           - {reason}")
        click.echo(report.summary())
    for problem in report.problems:  # what weakens the re-check (a restricted student without a portrait)
        click.echo(f"Warning: {problem}", err=True)
    sys.exit(4 if report.takedowns else 3 if report.open else 0)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but this machine needs --token.")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--behind-proxy", is_flag=True,
              help="An HTTPS reverse proxy on this machine forwards to the page: trust its X-Forwarded-For, "
                   "-Proto and -Host headers (cookies marked Secure, lockout per real client). Only with such a proxy.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A host name the page is reached by (e.g. checker.school.example), besides this machine's "
                   "names; any other Host header is refused (DNS rebinding guard). Repeatable.")
@click.option("--token", envvar="CONSENTGUARD_TOKEN",
              help="Access token (env CONSENTGUARD_TOKEN): required to listen beyond this machine.")
@click.option("--admin-token", envvar="CONSENTGUARD_ADMIN_TOKEN",
              help="Also required for the audit page and the takedown list (env CONSENTGUARD_ADMIN_TOKEN).")
@click.option("--keep-blocked", type=click.Path(file_okay=False, path_type=Path),
              help="Keep blocked photos in this private folder as a record (default: no photo is kept).")
@click.option("--keep-posted", type=click.Path(file_okay=False, path_type=Path),
              help="Keep photos marked as posted on the page in this private folder, so 'consentguard recheck' "
                   "can look at them again after a consent change (default: only their caption is re-checked).")
@click.option("--workers", type=int, help="Worker processes for face work (default: one per core).")
@thorough_option
@ocr_option
@db_option
def serve(host, port, behind_proxy, allow_hosts, token, admin_token, keep_blocked, keep_posted, workers, thorough,
          no_ocr, db_path):
    """Open the drag-and-drop checker: a web page on this machine.

    Settings saved with 'consentguard config set' are read when the page starts: restart it after
    a change.

    Example: consentguard serve   (then open http://127.0.0.1:8765/)
    """
    from consentguard.web import serve as run

    db_path = db_path or default_db_path()
    policy = policy_for(open_database(db_path, create=False), detect_mode="thorough" if thorough else None,
                        ocr=ocr_choice(no_ocr))
    run(db_path, host, port, token, policy, workers,
        announce=lambda line: click.echo(line, err=True), admin_token=admin_token, keep_blocked=keep_blocked,
        allow_hosts=allow_hosts, behind_proxy=behind_proxy, keep_posted=keep_posted)


@cli.group(cls=Group)
def roster():
    """Look at the roster in force."""


@roster.command("list")
@click.option("--restricted", is_flag=True, help="Only students with a photo or name restriction.")
@click.option("--unprotected", is_flag=True,
              help="Only photo-restricted students with no usable portrait (their faces cannot be recognised).")
@db_option
def roster_list(restricted, unprotected, db_path):
    """List students with their restrictions per channel (tab-separated).

    Example: consentguard roster list --restricted
    """
    from consentguard.match.index import unprotected as find_unprotected
    from consentguard.roster.consent import describe
    from consentguard.roster.sync import consents_of, current_snapshots
    from consentguard.store.portraits import encoded_counts
    db = open_database(db_path, create=False)
    only = set(find_unprotected(db)) if unprotected else None
    portraits = encoded_counts(db)
    click.echo("student_number\tname\tphoto_restricted\tname_restricted\tportraits")
    snaps = current_snapshots(db)
    for number, snap in sorted(snaps.items(), key=lambda kv: (kv[1]["last_name"], kv[1]["first_name"])):
        consents = consents_of(snap)
        photo, name = describe(consents, "photo"), describe(consents, "name")
        if (restricted and photo == name == "none") or (only is not None and number not in only):
            continue
        click.echo(f"{number}\t{snap['first_name']} {snap['last_name']}\t{photo}\t{name}\t{portraits.get(number, 0)}")


@roster.command("history")
@click.option("--limit", default=30, show_default=True, help="How many runs to show.")
@db_option
def roster_history(limit, db_path):
    """List sync runs, newest first: ok, refused and failed.

    Example: consentguard roster history
    """
    from consentguard.roster.history import runs
    for r in runs(open_database(db_path, create=False), limit):
        detail = r["message"] or f"{r['students']} students"
        click.echo(f"#{r['id']:<4} {r['started_at']}  {r['status']:<8} {r['os_user']:<10} {r['source']}  ({detail})")


@roster.command("diff")
@click.option("--from", "from_id", type=int, help="Sync run to compare from (default: the one before --to).")
@click.option("--to", "to_id", type=int, help="Sync run to compare to (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def roster_diff(from_id, to_id, as_json, db_path):
    """Show what changed between two sync runs.

    Example: consentguard roster diff --from 12 --to 14
    """
    from consentguard.roster.history import diff
    d = diff(open_database(db_path, create=False), from_id, to_id)
    click.echo(json.dumps(d.to_json(), indent=2) if as_json else d.text())


@roster.command("rollback")
@click.argument("sync_id", type=int)
@click.option("--accept-drop", is_flag=True, help="Allow the rollback to lift restrictions.")
@db_option
def roster_rollback(sync_id, accept_drop, db_path):
    """Restore every student's consent and details as of an earlier sync run.

    The rollback is recorded as a new run; students added since are kept.
    A restored photo restriction gets its face encodings back from the portraits on record;
    exit status 3 when that is not possible (sync again with --photos).

    Example: consentguard roster rollback 12
    """
    from consentguard.match.index import unprotected, unprotected_warning
    from consentguard.roster.history import rollback

    db = open_database(db_path, create=False)
    new_id, d = rollback(db, sync_id, accept_drop)
    click.echo(f"sync #{new_id}: restored {len(d.changes)} student(s) to their state at sync #{sync_id}")
    click.echo(d.text())
    missing = unprotected(db)
    if missing:  # a restored restriction whose portrait on record could not be encoded again
        click.echo(f"Warning: rollback done, but protection is weaker: {unprotected_warning(len(missing))}", err=True)
        sys.exit(3)


@cli.group(cls=Group)
def index():
    """The face index: stored encodings of students' portraits (see 'index status')."""


@index.command("purge")
@click.option("--all", "purge_all", is_flag=True,
              help="Delete every stored encoding (photos then go to review until the next sync), and "
                   "the faces kept from checked photos: the encodings and close-ups in cached scan "
                   "results (those photos are checked again) and in review items.")
@db_option
def index_purge(purge_all, db_path):
    """Delete face encodings the policy no longer needs (or all of them).

    Example: consentguard index purge --all
    """
    from consentguard.match import index as face_index
    from consentguard.store.db import roster_policies, transaction
    db = open_database(db_path, create=False)
    with transaction(db):
        photo_faces = face_index.purge_photo_faces(db) if purge_all else None
        count = face_index.purge_all(db) if purge_all else face_index.purge_unneeded(db, roster_policies(db)[0])
    click.echo(f"deleted {count} face encoding{'s' if count != 1 else ''}")
    if photo_faces and any(photo_faces):
        click.echo(f"emptied the faces kept from checked photos: {photo_faces[0]} cached scan result(s), "
                   f"{photo_faces[1]} review item(s)")


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@db_option
def index_status(as_json, db_path):
    """What biometric data the database holds: stored face encodings (portraits and faces confirmed
    in review), the students they cover, faces kept from checked photos, and whether face
    recognition is on.

    Example: consentguard index status --json
    """
    from consentguard.match.index import status

    figures = status(open_database(db_path, create=False))
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(f"face recognition: {figures['face_recognition']}; index: {figures['index_mode']}")
    click.echo(f"face encodings: {figures['encodings']} ({figures['students_indexed']} students; "
               f"{figures['review_references']} confirmed in review)")
    click.echo(f"faces kept from checked photos: {figures['cached_results_with_faces']} cached scan result(s), "
               f"{figures['review_items_with_faces']} review item(s)")


@cli.group(cls=Group)
def users():
    """Staff accounts for the page: once one exists, the page asks everyone to sign in, and what
    each may do follows their role (staff check and mark posted; approvers also release reviews;
    admins also see the audit trail and the takedown list). Every change is an audit event.

    Example: consentguard users add "Dana Office" --role approver
    """


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["staff", "approver", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (scripts).")
@db_option
def users_add(name, role, password_stdin, db_path):
    """Add an account (the password is asked twice, hidden; at least 12 characters).

    Example: consentguard users add "Dana Office" --role approver
    """
    from consentguard.store import users as accounts

    db = open_database(db_path, create=False)
    account = accounts.add(db, name, role, _password(password_stdin), os_user())
    click.echo(f"added {account.name} ({account.role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON (no password hashes).")
@db_option
def users_list(as_json, db_path):
    """List the accounts: name, role, status.

    Example: consentguard users list
    """
    from consentguard.store import users as accounts

    found = accounts.all_accounts(open_database(db_path, create=False))
    if as_json:
        click.echo(json.dumps([a.to_json() for a in found], indent=2))
        return
    for a in found:
        state = "disabled" if a.disabled else f"locked until {a.locked_until}" if a.locked_until else "active"
        click.echo(f"{a.name}\t{a.role}\t{state}")


@users.command("disable")
@click.argument("name")
@db_option
def users_disable(name, db_path):
    """Disable an account: it cannot sign in, and its open sessions end at their next request.

    Example: consentguard users disable "Dana Office"
    """
    from consentguard.store import users as accounts

    click.echo(f"disabled {accounts.set_disabled(open_database(db_path, create=False), name, True, os_user()).name}")


@users.command("enable")
@click.argument("name")
@db_option
def users_enable(name, db_path):
    """Enable a disabled account again (and clear its lockout).

    Example: consentguard users enable "Dana Office"
    """
    from consentguard.store import users as accounts

    click.echo(f"enabled {accounts.set_disabled(open_database(db_path, create=False), name, False, os_user()).name}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(["staff", "approver", "admin"]))
@db_option
def users_set_role(name, role, db_path):
    """Change an account's role (its open sessions end at their next request).

    Example: consentguard users set-role "Dana Office" admin
    """
    from consentguard.store import users as accounts

    account = accounts.set_role(open_database(db_path, create=False), name, role, os_user())
    click.echo(f"{account.name} is now {account.role}")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (scripts).")
@db_option
def users_password(name, password_stdin, db_path):
    """Set an account's password (its open sessions end; its lockout is cleared).

    Example: consentguard users password "Dana Office"
    """
    from consentguard.store import users as accounts

    account = accounts.set_password(open_database(db_path, create=False), name, _password(password_stdin), os_user())
    click.echo(f"password of {account.name} changed")


@cli.group(cls=Group)
def audit():
    """The audit trail: every check and override, in a hash chain.

    Example: consentguard audit verify
    """


@audit.command("verify")
@click.option("--new-anchor", is_flag=True,
              help="Write the anchor file from the current head (a database from before anchors, or a restored "
                   "backup), after checking the chain.")
@db_option
def audit_verify(new_anchor, db_path):
    """Check that no audit row was edited or deleted (exit 1 if one was).

    Example: consentguard audit verify
    """
    from consentguard.store.audit import new_anchor as write_new_anchor
    from consentguard.store.audit import verify

    db_file = db_path or default_db_path()
    db = open_database(db_file, create=False)
    result = write_new_anchor(db) if new_anchor else verify(db)
    for note in result.notes:
        click.echo(f"{db_file}: note: {note}", err=True)
    if result.ok:
        click.echo(f"audit trail intact: {result.rows} rows; head {result.head}")
        return
    for problem in result.problems:
        click.echo(f"{db_file}: {problem}", err=True)
    raise SystemExit(1)


@audit.command("export")
@click.option("--out", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="CSV file to write (default: stdout).")
@click.option("--verdict", type=click.Choice(["pass", "review", "block", "error"]))
@click.option("--since", metavar="YYYY-MM-DD", help="Only rows from this day on.")
@click.option("--until", metavar="YYYY-MM-DD", help="Only rows up to this day.")
@click.option("--student", metavar="NAME|NUMBER",
              help="Only rows that name this student (a student number, or part of a name on the roster).")
@db_option
def audit_export(out, verdict, since, until, student, db_path):
    """Write the audit trail (newest first) as CSV.

    Example: consentguard audit export --since 2026-09-01 --out audit.csv
    """
    from consentguard.output.report import export_audit_csv
    from consentguard.store.audit import query

    for day in (since, until):
        if day is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise click.BadParameter(f"{day!r} is not a date like 2026-09-01")
    export_audit_csv(query(open_database(db_path, create=False), verdict, since, until, student=student), out)


@cli.group(cls=Group)
def review():
    """The review queue: decisions staff must make about people and photos of a scan.

    Example: consentguard review list
    """


def _students_line(item) -> str:
    return ", ".join(f"{s.get('name') or '?'} #{s.get('student_number')}"
                     + (f" ({s['distance']:.2f})" if s.get("distance") is not None else "") for s in item.students)


@review.command("list")
@click.option("--all", "show_all", is_flag=True, help="Decided items too.")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON (see docs/review.md).")
@db_option
def review_list(show_all, as_json, db_path):
    """List the open review items (id, kind, summary, photos, students), oldest first.

    Example: consentguard review list
    """
    from consentguard.review import item_json, list_items

    db = open_database(db_path, create=False)
    items = list_items(db, include_decided=show_all)
    if as_json:
        click.echo(json.dumps({"review_items": [item_json(db, i) for i in items]}, indent=2, ensure_ascii=False))
        return
    for item in items:
        click.echo(f"{item.id}\t{item.kind}\t{item.status}\t{item.summary}")
        click.echo(f"    photos: {len(item.photos)}: " + ", ".join(item.photos[:3])
                   + (" ..." if len(item.photos) > 3 else ""))
        if item.students:
            click.echo(f"    students: {_students_line(item)}")
    click.echo(f"{len(items)} {'item' if len(items) == 1 else 'items'}"
               + ("" if show_all else " to decide (consentguard review show ID)"), err=True)


@review.command("show")
@click.argument("item_id")
@click.option("--closeups", type=click.Path(file_okay=False, path_type=Path),
              help="Write each face's close-up JPEG to this folder (private: 0700/0600).")
@db_option
def review_show(item_id, closeups, db_path):
    """Show one item: every face with its photo, box and distance, and its decisions.

    Example: consentguard review show p-3f2a9c --closeups /tmp/item
    """
    import os

    from consentguard.review import ReviewError, item_decisions, load_item

    db = open_database(db_path, create=False)
    item = load_item(db, item_id)
    if item is None:
        raise ReviewError(f"no review item {item_id!r} (consentguard review list shows the open ones)")
    click.echo(f"{item.id} ({item.kind}, {item.status}): {item.summary}")
    if item.students:
        click.echo(f"students in question: {_students_line(item)}")
    for reason in item.reasons:
        click.echo(f"  - {reason}")
    if closeups:
        closeups.mkdir(mode=0o700, parents=True, exist_ok=True)
    for n, face in enumerate(item.faces, 1):
        distance = face.get("distance")
        line = (f"face {n}: {face.get('path')}" + (f" [{face['view']}]" if face.get("view") else "")
                + (f" box {face['box']}" if face.get("box") else " (the whole photo)")
                + (f" width {face['width']} px" if face.get("width") else "")
                + (f" distance {distance:.2f}" if distance is not None else ""))
        picture = item.closeups[n - 1] if n - 1 < len(item.closeups) else None
        if closeups and picture:
            target = closeups / f"{item.id}-face{n}.jpg"
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(picture)
            line += f" -> {target}"
        elif closeups:
            line += " (no close-up kept)"
        click.echo(line)
    for d in item_decisions(db, item.id):
        state = f"undone by {d['undone_by']} at {d['undone_at']}" if d["undone_at"] else "in force"
        click.echo(f"decision #{d['id']}: {d['decision']} {d['student_number'] or ''} by {d['decided_by']} "
                   f"at {d['decided_at']} ({state})")


@review.command("decide")
@click.argument("item_id")
@click.option("--is", "is_", metavar="NUMBER", help="The face(s) are this student.")
@click.option("--not", "not_", metavar="NUMBER", help="The face(s) are not this student.")
@click.option("--cleared", is_flag=True, help="Checked by eye: a photo item's problem is cleared; a person item's faces are no photo-restricted student (never lifts a block).")
@click.option("--by", required=True, help="Your name (recorded in the audit trail).")
@click.option("--note", help="Why (recorded with the decision).")
@click.option("--face", "faces", type=int, multiple=True, metavar="N",
              help="Only this face (numbered as 'review show' lists them). Repeatable; default: every face.")
@db_option
def review_decide(item_id, is_, not_, cleared, by, note, faces, db_path):
    """Decide an item: every face of it is (or is not) a student, or a photo item is cleared.

    The decision is recorded per face in the audit trail and applied to those faces in this and
    later scans. A face confirmed as a photo-restricted student becomes one of their references.

    Example: consentguard review decide p-3f2a9c --not 100104 --by "Dana Office"
    """
    from consentguard.review import decide_item, reference_source
    from consentguard.store.portraits import count_from
    from consentguard.store.review import item_status

    chosen = [(d, n) for d, n in (("is", is_), ("not", not_), ("cleared", cleared or None)) if n is not None]
    if len(chosen) != 1:
        raise click.UsageError("say exactly one of --is NUMBER, --not NUMBER or --cleared")
    decision, number = chosen[0]
    db = open_database(db_path, create=False)
    ids = decide_item(db, item_id, decision, None if decision == "cleared" else number, by, note, faces or None)
    refs, status = count_from(db, reference_source(item_id)), item_status(db, item_id)
    click.echo(f"item {item_id}: {len(ids)} decision{'s' if len(ids) != 1 else ''} recorded "
               f"(#{', #'.join(map(str, ids))}); item {status}"
               + (f"; {refs} face{'s' if refs != 1 else ''} added to the student's references" if refs else ""))


@review.command("undo")
@click.argument("decision_id", type=int)
@click.option("--by", required=True, help="Your name (recorded in the audit trail).")
@click.option("--note", help="Why the decision is undone.")
@db_option
def review_undo(decision_id, by, note, db_path):
    """Undo a review decision (admin: whoever can write the database): its item is open again and
    a reference it added is removed.

    Example: consentguard review undo 17 --by "A. Admin"
    """
    from consentguard.review import undo_decision

    audit_id = undo_decision(open_database(db_path, create=False), decision_id, by, note)
    click.echo(f"decision #{decision_id} undone (audit #{audit_id}); its item is open again")


@cli.command()
def settings():
    """List the policy settings with their defaults.

    Example: consentguard settings
    """
    for s in SETTINGS:
        click.echo(f"{s.name} = {s.default}\n    {s.help}")


@cli.group(cls=Group)
def config():
    """Saved settings: values that replace a setting's default for check, scan, serve, redact and sync.

    A command-line option still wins over a saved value. Every change is recorded in the audit
    trail (who, when, old -> new). 'consentguard settings' explains each setting.

    Example: consentguard config set review_distance 0.66
    """


def _shown(value) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


@config.command("get")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: name, value, default, source, set_by, set_at.")
@db_option
def config_get(name, as_json, db_path):
    """Show each setting (or NAME): value in force, default, and where it comes from.

    Example: consentguard config get block_distance
    """
    from consentguard.errors import DatabaseError
    from consentguard.policy import setting
    from consentguard.store.settings import in_force

    if name is not None:
        setting(name)  # an unknown name: one line listing the names
    try:
        db = open_database(db_path, create=False)
    except DatabaseError:  # no database yet: nothing saved, every default in force
        db = None
    rows = [r for r in in_force(db) if name is None or r.name == name]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    for r in rows:
        where = (f"saved by {r.set_by} at {r.set_at}; default {_shown(r.default)}" if r.source == "saved"
                 else "default")
        click.echo(f"{r.name} = {_shown(r.value)}  ({where})")


@config.command("set")
@click.argument("name")
@click.argument("value")
@db_option
def config_set(name, value, db_path):
    """Save VALUE for setting NAME (checked; recorded in the audit trail).

    VALUE is checked as the option would be: a value outside the setting's limits, or one the other
    settings in force refuse (block_distance above review_distance), is refused with one line.

    Example: consentguard config set review_distance 0.66
    """
    from consentguard.match.index import save_setting

    change = save_setting(open_database(db_path), name, value)  # before the first sync too (creates the database)
    click.echo(_change_line(change))
    if change.also:
        click.echo(change.also)


@config.command("unset")
@click.argument("name")
@db_option
def config_unset(name, db_path):
    """Remove NAME's saved value: its default is in force again (recorded in the audit trail).

    Example: consentguard config unset review_distance
    """
    from consentguard.match.index import FACE_RECOGNITION_ON
    from consentguard.store.settings import unset

    change = unset(open_database(db_path), name)
    click.echo(_change_line(change))
    if name == "face_recognition" and change.audit_id is not None and change.old is False:
        click.echo(FACE_RECOGNITION_ON)


def _change_line(change) -> str:
    from consentguard.policy import DEFAULTS

    if change.name not in DEFAULTS:  # a setting this version does not know, removed
        return f"{change.name}: saved value {_shown(change.old)} removed; audit #{change.audit_id}"
    now = f"{_shown(DEFAULTS[change.name])} (the default)" if change.new is None else _shown(change.new)
    if change.audit_id is None:
        return f"{change.name} = {now}: unchanged"
    was = f"{_shown(DEFAULTS[change.name])}, the default" if change.old is None else _shown(change.old)
    return f"{change.name} = {now} (was {was}); audit #{change.audit_id}"


def main():  # console script entry point
    cli()
