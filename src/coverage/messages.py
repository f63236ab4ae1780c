"""The text a user reads in the terminal and in ``validation.txt``, in the study's language.

One catalogue per language (:mod:`.messages_zh`, :mod:`.messages_en`), each a dict keyed by a
stable message id such as ``"io.not_a_number"``. A problem id maps to ``(message, fix)``, any
other id (run summary, list cut, location words) to one text. Both catalogues hold exactly the
same ids with the same ``{placeholders}`` (tested), and every id the package uses is in them
(tested by scanning the source), so a message is never English-only or missing.

Code never formats a user-facing sentence itself: it passes the id and the values
(``report.error(path, "io.not_a_number", column="population", value=raw)``), and the text is
rendered when it is shown, in the language asked for. Values that are text of their own (a
"did you mean" hint, a row reference) are :class:`Text` or :class:`Row` objects, rendered in
the same language.
"""

from __future__ import annotations

import contextvars
import re
import string
from typing import Any

from . import messages_en, messages_zh

LANGUAGES = ("zh", "en")
#: The config's default (``[study] language``); also used before a config is parsed, since the
#: toolkit's users are Chinese planners.
DEFAULT_LANGUAGE = "zh"
CATALOGUES: dict[str, dict[str, str | tuple[str, str]]] = {"zh": messages_zh.MESSAGES, "en": messages_en.MESSAGES}
#: Items shown per list in the terminal before "and N more".
LIST_LIMIT = 10
#: The language of the run in progress (``pipeline.run`` sets it), for text written while it runs
#: by code that knows no study: stage lines and progress bars.
RUN_LANGUAGE: contextvars.ContextVar[str] = contextvars.ContextVar("run_language", default="en")


def language_of(language: str | None) -> str:
    """``language`` if a catalogue exists for it, else the default."""
    return language if language in CATALOGUES else DEFAULT_LANGUAGE


class Text:
    """A message id with its values, rendered later in any language (a deferred sentence)."""

    __slots__ = ("key", "params")

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params

    def render(self, language: str) -> str:
        entry = CATALOGUES[language_of(language)][self.key]
        return _fill(entry if isinstance(entry, str) else entry[0], language, self.params)

    def fix(self, language: str) -> str:
        """The fix text of a problem id ("" for a plain text id)."""
        entry = CATALOGUES[language_of(language)][self.key]
        return "" if isinstance(entry, str) else _fill(entry[1], language, self.params)

    def __repr__(self) -> str:
        return f"Text({self.key!r}, **{self.params!r})"

    def __str__(self) -> str:
        return self.render("en")


class Row(str):
    """A row or feature of an input file: its English label (``"5 (id CD01)"``, ``"feature 3"``)
    as a plain string, and :meth:`render` for the study language."""

    line: int | None
    feature: int | None
    ident: str

    def __new__(cls, *, line: int | None = None, feature: int | None = None, ident: str = "") -> "Row":
        base = str(line) if line is not None else f"feature {feature}"
        self = super().__new__(cls, f"{base} (id {ident})" if ident else base)
        self.line, self.feature, self.ident = line, feature, ident
        return self

    def __getnewargs_ex__(self):  # copy and pickle rebuild it from its parts
        return (), {"line": self.line, "feature": self.feature, "ident": self.ident}

    def render(self, language: str) -> str:
        key = "where.row_line" if self.line is not None else "where.row_feature"
        text_ = text(key, language, n=self.line if self.line is not None else self.feature)
        return text_ + (text("where.row_id", language, id=self.ident) if self.ident else "")


class ByLanguage:
    """A value computed in each language by code that already speaks both (e.g. a rule's own
    explanation): ``ByLanguage(lambda lang: ...)`` holds one text per language."""

    __slots__ = ("texts",)

    def __init__(self, make) -> None:
        self.texts = {lang: make(lang) for lang in LANGUAGES}

    def render(self, language: str) -> str:
        return self.texts[language_of(language)]

    def __repr__(self) -> str:
        return f"ByLanguage({self.texts!r})"


def render_value(value: Any, language: str) -> Any:
    """A placeholder value in ``language``: Text/Row rendered, lists joined, others unchanged."""
    if isinstance(value, (Text, Row, ByLanguage)):
        return value.render(language)
    if isinstance(value, (list, tuple)):
        sep = "、" if language == "zh" else ", "
        return sep.join(str(render_value(v, language)) for v in value)
    return value


def _fill(template: str, language: str, params: dict[str, Any]) -> str:
    return template.format(**{k: render_value(v, language) for k, v in params.items()})


def text(key: str, language: str, /, **params: Any) -> str:
    """The catalogue text ``key`` in ``language`` (zh or en), filled with ``params``."""
    return Text(key, **params).render(language)


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a catalogue text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


_LANGUAGE_LINE = re.compile(r"^\s*language\s*=\s*[\"']([A-Za-z_-]+)[\"']", re.MULTILINE)


def detect_language(raw: str | bytes | None) -> str:
    """The ``[study] language`` of a config's raw text, read without parsing it (for the errors
    that stop the config from being parsed); the default when it is not found or not known."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not raw:
        return DEFAULT_LANGUAGE
    section = ""
    for line in raw.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[] \t").split("]")[0].strip()
            continue
        match = _LANGUAGE_LINE.match(line)
        if match and section in ("study", ""):
            return language_of(match.group(1))
    return DEFAULT_LANGUAGE


#: Input layers -> the message id of their name (communities, facilities, ...).
LAYER_NAMES = {"communities": "layer.communities", "population": "layer.population",
               "facilities": "layer.facilities", "candidates": "layer.candidates", "buildings": "layer.buildings",
               "districts": "layer.districts", "gates": "layer.gates", "demand_points": "layer.demand_points",
               "features": "layer.features"}


#: Units of input columns (schema.Column.unit) -> the message id of their name.
UNIT_NAMES = {"persons": "unit.persons", "households": "unit.households", "beds": "unit.beds", "m²": "unit.m2",
              "CNY": "unit.cny"}


def unit_name(unit: str) -> Text | str:
    """The name of a unit as a :class:`Text` (the unit itself if it has none)."""
    return Text(UNIT_NAMES[unit]) if unit in UNIT_NAMES else unit


def layer_name(layer: str) -> Text | str:
    """The name of an input layer as a :class:`Text` (the layer key itself if it has none)."""
    return Text(LAYER_NAMES[layer]) if layer in LAYER_NAMES else layer
