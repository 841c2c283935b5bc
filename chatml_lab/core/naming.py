"""Session names: readable generated names (ChatML's astronomy words) and slugs of user input."""

from __future__ import annotations

import re
import unicodedata

from ..errors import InvalidNameError

WORDS = tuple(
    """
    andromeda antares aquarius aquila aries auriga bellatrix betelgeuse bootes caelum canopus
    capella carina cassiopeia castor centaurus cepheus cetus columba corvus crux cygnus deneb
    dorado draco eridanus fomalhaut gemini grus hercules hydra lacerta leo lepus libra lupus
    lynx lyra mensa mira monoceros musca norma octans ophiuchus orion pavo pegasus perseus
    phoenix pictor pisces polaris pollux procyon puppis pyxis regulus rigel sagitta
    sagittarius scorpius sculptor scutum serpens sextans sirius spica taurus telescopium
    triangulum tucana ursa vega vela virgo volans vulpecula crab-nebula horsehead ring-nebula
    eagle-nebula helix pleiades hyades sombrero whirlpool pinwheel cartwheel magellan altair
    arcturus aldebaran achernar hadar mimosa shaula alnilam alnitak mintaka saiph adhara wezen
    sargas kochab mizar alcor thuban algol markab
    """.split()
)

MAX_LENGTH = 48


def generated_name(attempt: int = 0) -> str:
    """A random readable name; after a few collisions a short random suffix is added."""
    import secrets  # here: reading commands never pay for it (hashlib, base64)

    word = secrets.choice(WORDS)
    if attempt < 5:
        return word
    return f"{word}-{secrets.token_hex(2)}"


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by ``-``; unicode is folded to its closest ASCII.

    Raises :class:`InvalidNameError` when nothing usable remains, or when ``text`` holds a control
    character (a NUL, an escape): those come from a bug upstream, never from a name someone chose.
    """
    for char in text:
        if char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            raise InvalidNameError(
                f"name {text!r} contains the control character U+{ord(char):04X}:"
                " use letters, digits, dots and dashes (like 'fix-login')"
            )
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9._-]+", "-", folded.lower())
    slug = re.sub(r"-{2,}", "-", slug)
    slug = re.sub(r"\.{2,}", ".", slug).strip("-._")
    slug = slug[:MAX_LENGTH].strip("-._")
    if slug.endswith(".lock"):
        slug = slug[: -len(".lock")].strip("-._")
    if not slug:
        raise InvalidNameError(
            f"name {text!r} has no letters or digits usable in a branch name: use a name like 'fix-login'"
        )
    return slug


_STOP_WORDS = {"the", "a", "an", "to", "for", "with", "and", "or", "in", "on", "at", "of", "please"}


def name_from_text(text: str, words: int = 5, limit: int = 40) -> str | None:
    """The deterministic auto-name: the first words of a message, minus filler (ChatML §9)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    kept = [w for w in re.sub(r"[^a-z0-9]+", " ", folded).split() if w not in _STOP_WORDS]
    slug = "-".join(kept[:words])[:limit].strip("-")
    return slug if len(slug) >= 3 else None


def valid_prefix(text: str) -> bool:
    """True when ``text`` can start a branch name (git check-ref-format's rules for our alphabet)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", text) or ".." in text or text.startswith("-"):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in text.split("/"))
