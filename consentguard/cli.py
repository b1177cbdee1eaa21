"""The command line: a thin layer over the library API.

Data goes to stdout, messages to stderr. Library errors become one-line
``Error: …`` messages with exit status 1; usage errors exit 2; ``check``
exits 4 if any photo is blocked, else 3 if any needs review or had an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ConsentGuardError
from .policy import SETTINGS, Policy


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


def open_database(db_path: Path | None, create: bool = True):
    from .db import open_db
    return open_db(db_path, create=create)


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
@click.argument("export", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--photos", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of portraits named <Student_Number>.jpg|.jpeg|.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the sync report as JSON.")
@db_option
def sync(export, photos, as_json, db_path):
    """Import an SIS export (and portraits) as the roster in force.

    All or nothing: a refused or failed sync changes nothing, and a student
    missing from the export keeps every restriction they had.

    Example: consentguard sync student.export.csv --photos portraits/
    """
    from .sync import sync_roster
    report = sync_roster(open_database(db_path), export, photos)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else report.summary())


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--caption", help="The draft caption or post text to check for restricted names.")
@click.option("--caption-file", type=click.File("r", encoding="utf-8"),
              help="Read the caption from a file ('-' for stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (see README).")
@click.option("--block-distance", type=float, help=SETTINGS[0].help + f" Default: {SETTINGS[0].default}")
@click.option("--review-distance", type=float, help=SETTINGS[1].help + f" Default: {SETTINGS[1].default}")
@db_option
def check(images, caption, caption_file, as_json, block_distance, review_distance, db_path):
    """Check photos (and a caption): pass, review, block or error for each.

    Exit status: 4 if any photo is blocked, 3 if any needs review or could
    not be read, 0 if all pass.

    Example: consentguard check IMG_0412.jpg --caption "Maria at the fair"
    """
    from .check import Checker, exit_status
    from .report import human, json_document

    if caption_file is not None:
        caption = (caption + "\n" if caption else "") + caption_file.read()
    try:
        policy = Policy().with_(block_distance=block_distance, review_distance=review_distance)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    checker = Checker(open_database(db_path, create=False), policy)
    results = [checker.check_path(image, caption) for image in images]
    click.echo(json_document(results) if as_json else human(results))
    sys.exit(exit_status(r.verdict for r in results))


@cli.group(cls=Group)
def roster():
    """Look at the roster in force."""


@roster.command("list")
@click.option("--restricted", is_flag=True, help="Only students with a photo or name restriction.")
@db_option
def roster_list(restricted, db_path):
    """List students with their restrictions (tab-separated).

    Example: consentguard roster list --restricted
    """
    db = open_database(db_path, create=False)
    where = "WHERE photo_restricted = 1 OR name_restricted = 1" if restricted else ""
    click.echo("student_number\tname\tphoto_restricted\tname_restricted\tportraits")
    for row in db.query(
            "SELECT s.student_number, s.first_name || ' ' || s.last_name AS name, s.photo_restricted, "
            "s.name_restricted, (SELECT count(*) FROM portraits p WHERE p.student_number = "
            f"s.student_number AND p.encoding IS NOT NULL) AS portraits FROM students s {where} "
            "ORDER BY s.last_name, s.first_name"):
        click.echo("\t".join(str(v) for v in row.values()))


@cli.group(cls=Group)
def index():
    """The face index: stored encodings of photo-restricted students' portraits."""


@index.command("purge")
@click.option("--all", "purge_all", is_flag=True,
              help="Delete every stored encoding (photos then go to review until the next sync).")
@db_option
def index_purge(purge_all, db_path):
    """Delete face encodings the policy no longer needs (or all of them).

    Example: consentguard index purge --all
    """
    from . import index as face_index
    from .db import transaction
    db = open_database(db_path, create=False)
    with transaction(db):
        count = face_index.purge_all(db) if purge_all else face_index.purge_unneeded(db)
    click.echo(f"deleted {count} face encoding{'s' if count != 1 else ''}")


@cli.command()
def settings():
    """List the policy settings with their defaults.

    Example: consentguard settings
    """
    for s in SETTINGS:
        click.echo(f"{s.name} = {s.default}\n    {s.help}")


def main():  # console script entry point
    cli()
