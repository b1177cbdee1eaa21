"""A small curated table of common given-name nicknames (English and Spanish).

Each entry is ``formal names: nicknames``. A student whose roster first name is
a formal name is also looked for under its nicknames ("Alexander" as "Alex");
a student known by a nickname is also looked for under its formal names ("Kate"
as "Katherine"), but not under the other nicknames of that name ("Kate" is not
looked for as "Kathy"). A name written with a nickname is a weaker hit than
the name on the roster: it goes to review, never straight to block.
"""

from __future__ import annotations

_TABLE = """
abigail: abby abbie
albert: al bert bertie
alexander alexandra alexandria: alex alexa lexi sandy sasha xander
alejandro alejandra: alex ale
alfred: al alfie fred
allison alison: ally allie
amanda: mandy manda
andrew andrea: andy drew
anthony antonio: tony
benjamin: ben benny benji
cameron: cam
catherine katherine kathryn katharine caitlin: kate katie kathy cathy kat kit
charles: charlie chuck chaz
charlotte: charlie lottie
christopher: chris kit topher
christina christine kristina kristen: chris tina kristy
cynthia: cindy
daniel danielle: dan danny dani
david: dave davey
deborah: deb debbie
dominic dominick: dom
donald: don donnie
dorothy: dot dottie
douglas: doug
edward eduardo: ed eddie ted ned lalo
eleanor elena eleanora: ellie nora
elizabeth: liz lizzie beth betsy eliza libby lisa
emily emilia: em emmy millie
evelyn: evie
francis frances francisco: frank fran frankie paco pancho
frederick: fred freddie
gabriel gabriela gabrielle: gabe gabby gabi
gerald: gerry jerry
gregory: greg
guadalupe: lupe lupita
guillermo: memo
henry: hank harry hal
ignacio: nacho
isabella isabel isabelle: bella izzy isa
jacob: jake
james: jim jimmy jamie
jennifer: jen jenny
jessica: jess jessie
jesus: chuy
jonathan john: jon johnny jack
joseph jose: joe joey pepe
josefina josephine: josie jo
joshua: josh
katelyn kaitlyn: kate katie
kenneth: ken kenny
kimberly: kim
lawrence: larry
leonard leonardo: leo len lenny
madeline madeleine madison: maddie maddy
margaret: maggie meg peggy margie greta
matthew: matt matty
maximilian maxwell maximiliano: max
michael michelle: mike mikey mick shelly
mohammed muhammad mohamed: mo
natalie natalia: nat talia
nathaniel nathan: nate nat
nicholas nicolas: nick nicky nico
olivia: liv livvy
pamela: pam
patrick patricia: pat patty trish paddy
rebecca: becky becca
richard ricardo: rick ricky rich dick
robert roberto roberta: rob bob bobby robbie bert beto
ronald: ron ronnie
samuel samantha: sam sammy
sophia sofia: sophie
stephen steven: steve stevie
susan suzanne susana: sue susie suzy
theodore: theo ted teddy
thomas: tom tommy
timothy: tim timmy
valentina valentino: val vale
victoria: vicky tori
vincent: vince vinny
william: will bill billy liam willy
zachary: zach zack
"""


def _parse() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    nicknames: dict[str, set[str]] = {}
    formal: dict[str, set[str]] = {}
    for line in _TABLE.strip().splitlines():
        names, _, nicks = line.partition(":")
        for name in names.split():
            nicknames.setdefault(name, set()).update(nicks.split())
        for nick in nicks.split():
            formal.setdefault(nick, set()).update(names.split())
    return nicknames, formal


NICKNAMES, FORMAL = _parse()


def variants(first_name: str) -> set[str]:
    """Other names the student may be called by (folded, one word each)."""
    name = first_name.casefold()
    return (NICKNAMES.get(name, set()) | FORMAL.get(name, set())) - {name}
