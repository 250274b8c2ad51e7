"""Schema-bounded parameters: tools, tool_choice, response_format, structured_outputs,
metadata and chat_template_kwargs (contract.md §2.3-§2.6 and §2.1 row 39).

One JSON-Schema bounds walker (``SchemaBounds`` in ``paramvalidators/schema_bounds.go``) serves
``tools[].function.parameters``, ``response_format.json_schema.schema`` and
``structured_outputs.json``; a plain structure walker (``ObjectBounds``) serves
``chat_template_kwargs``. Limits, keyword lists and message texts come from the rule options
and messages (cases/rules/30-schemas.yaml); only the traversal lives here.

Go walks maps in random order, so with several problems upstream may report any of them; the
functions here visit keys in body order and yield problems in upstream check order, so the
engine's first (applicable) hit is a faithful choice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

from .. import gojson
from .check_basic import utf8_len
from .context import Context, Site, child
from .registry import NO_OPTIONS, check, options
from ..gojson import go_trim_space
from .transform_schemas import NodeLimit, RefError, Vocabulary, dereference, mentions_refs
from .types import MISSING, Change, Hit


# =============================================================================================
# Go regexp/syntax emulation (best-effort)
#
# The gateway compiles schema `pattern`s and structured_outputs regexes with Go's
# regexp.Compile (RE2 syntax, Perl flags) and quotes the error text. This parser follows
# regexp/syntax/parse.go closely enough to reproduce the error for the cases below; the text
# is Go's `error parsing regexp: <code>: `<expr>``. What is emulated:
#
#   code (Go ErrorCode text)                  | typical trigger          | <expr>
#   ------------------------------------------+--------------------------+---------------------
#   missing closing )                         | `(`, `a(b`               | whole pattern
#   unexpected )                              | `)`, `a)`                | whole pattern
#   missing closing ]                         | `[a`                     | from `[` to the end
#   invalid character class range             | `[z-a]`, `\p{Foo}`, `[[:foo:]]` | the range / name
#   invalid nested repetition operator        | `a**`, `a+?+`, `a{2}{3}` | both operators
#   missing argument to repetition operator   | `*a`, `(*)`, `a|+`       | the operator
#   invalid repeat count                      | `a{1001}`, `a{3,2}`, `(a{40}){40}` | the `{…}`
#   invalid or unsupported Perl syntax        | `(?=x)`, `(?!x)`, `(?P=n)`, `(?z)` | `(?=` …
#   invalid named capture                     | `(?P<1a>x)`, `(?<=x)`    | `(?P<1a>` / whole
#   invalid escape sequence                   | `\1`, `\C`, `\q`, `\x4`  | the escape
#   trailing backslash at end of expression   | `a\`                     | empty
#
# Not emulated: `expression too large` / `expression nests too deeply` (unreachable within
# the 512-byte pattern bound) and invalid UTF-8 (Go's JSON decoder already replaced it).
# Unicode class names follow Go 1.25 (categories with long aliases, scripts, Any, ASCII,
# Assigned; case, spaces, `_` and `-` ignored), which is more lenient than older Go.
# =============================================================================================

_GO_SCRIPTS = (
    "Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali "
    "Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian "
    "Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret "
    "Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian "
    "Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo "
    "Hatran Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian "
    "Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki "
    "Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam "
    "Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive "
    "Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari "
    "New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic "
    "Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya "
    "Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic "
    "Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo "
    "Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut "
    "Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi "
    "Zanabazar_Square"
)
_GO_CATEGORIES = (
    "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs "
    "Any ASCII Assigned Cn LC Other Control Format Private_Use Surrogate Unassigned Letter Cased_Letter "
    "Lowercase_Letter Modifier_Letter Other_Letter Titlecase_Letter Uppercase_Letter Mark Combining_Mark "
    "Spacing_Mark Enclosing_Mark Nonspacing_Mark Number Decimal_Number Digit Letter_Number Other_Number "
    "Punctuation Punct Connector_Punctuation Dash_Punctuation Close_Punctuation Final_Punctuation "
    "Initial_Punctuation Other_Punctuation Open_Punctuation Symbol Currency_Symbol Modifier_Symbol "
    "Math_Symbol Other_Symbol Separator Line_Separator Paragraph_Separator Space_Separator Cntrl"
)


def _norm_unicode_name(name: str) -> str:
    return re.sub(r"[ _\-]", "", name).lower()


_UNICODE_NAMES = frozenset(_norm_unicode_name(n) for n in (_GO_SCRIPTS + " " + _GO_CATEGORIES).split())
_POSIX_CLASSES = frozenset(
    f"[:{neg}{name}:]" for neg in ("", "^")
    for name in "alnum alpha ascii blank cntrl digit graph lower print punct space upper word xdigit".split()
)
_PERL_CLASSES = frozenset(("\\d", "\\D", "\\s", "\\S", "\\w", "\\W"))
_MAX_REPEAT = 1000  # regexp/syntax: counted repetition bound, also the nested-repeat product bound


class GoRegexpError(Exception):
    def __init__(self, code: str, expr: str) -> None:
        super().__init__(code)
        self.code, self.expr = code, expr

    def __str__(self) -> str:
        return f"error parsing regexp: {self.code}: `{self.expr}`"


@dataclass
class _Node:
    op: str  # "(" and "|" are the pseudo operators; anything else is a real expression
    subs: tuple["_Node", ...] = ()
    min: int = 0
    max: int = 0
    cap: bool = True  # for "(": capturing group


_PSEUDO = ("(", "|")


class _GoRegexpParser:
    """A structural replica of regexp/syntax's parser: it builds just enough of the tree to
    find the errors Go reports, not a matcher."""

    def __init__(self, pattern: str) -> None:
        self.whole = pattern
        self.stack: list[_Node] = []

    # -- stack operations (parse.go concat / alternate / swapVerticalBar) --------------------

    def push(self, op: str, *subs: _Node) -> None:
        self.stack.append(_Node(op, subs))

    def _collapse(self, op: str) -> None:
        i = len(self.stack)
        while i > 0 and self.stack[i - 1].op not in _PSEUDO:
            i -= 1
        subs = self.stack[i:]
        del self.stack[i:]
        if not subs:
            self.push("empty" if op == "concat" else "nomatch")
        elif len(subs) == 1:
            self.stack.append(subs[0])
        else:
            self.push(op, *subs)

    def _swap_vertical_bar(self) -> bool:
        if len(self.stack) >= 2 and self.stack[-2].op == "|":
            self.stack[-2], self.stack[-1] = self.stack[-1], self.stack[-2]
            return True
        return False

    def _close(self) -> None:
        self._collapse("concat")
        if self._swap_vertical_bar():
            self.stack.pop()
        self._collapse("alt")

    def right_paren(self) -> None:
        self._close()
        if len(self.stack) < 2 or self.stack[-2].op != "(":
            raise GoRegexpError("unexpected )", self.whole)
        inner = self.stack.pop()
        paren = self.stack.pop()
        self.stack.append(_Node("capture", (inner,)) if paren.cap else inner)

    def repeat(self, op: str, lo: int, hi: int, before: str, after: str, last_repeat: str) -> str:
        if after.startswith("?"):
            after = after[1:]  # non-greedy
        if last_repeat:
            raise GoRegexpError("invalid nested repetition operator", last_repeat[: len(last_repeat) - len(after)])
        token = before[: len(before) - len(after)]
        if not self.stack or self.stack[-1].op in _PSEUDO:
            raise GoRegexpError("missing argument to repetition operator", token)
        node = _Node(op, (self.stack.pop(),), lo, hi)
        self.stack.append(node)
        if op == "repeat" and (lo >= 2 or hi >= 2) and not _repeat_is_valid(node, _MAX_REPEAT):
            raise GoRegexpError("invalid repeat count", token)
        return after

    # -- the main loop -------------------------------------------------------------------------

    def parse(self) -> None:
        t = self.whole
        last_repeat = ""
        while t:
            repeat = ""
            c = t[0]
            if c == "(":
                if t.startswith("(?"):
                    t = self.perl_flags(t)
                else:
                    self.stack.append(_Node("("))
                    t = t[1:]
            elif c == "|":
                self._collapse("concat")
                if not self._swap_vertical_bar():
                    self.push("|")
                t = t[1:]
            elif c == ")":
                self.right_paren()
                t = t[1:]
            elif c == "[":
                t = self.char_class(t)
            elif c in "*+?":
                op = {"*": "star", "+": "plus", "?": "quest"}[c]
                before = t
                t = self.repeat(op, 0, 0, before, t[1:], last_repeat)
                repeat = before
            elif c == "{":
                parsed = _parse_repeat(t)
                if parsed is None:
                    self.push("lit")  # not a repeat: a literal `{`
                    t = t[1:]
                else:
                    lo, hi, after = parsed
                    if lo < 0 or lo > _MAX_REPEAT or hi > _MAX_REPEAT or (hi >= 0 and lo > hi):
                        raise GoRegexpError("invalid repeat count", t[: len(t) - len(after)])
                    before = t
                    t = self.repeat("repeat", lo, hi, before, after, last_repeat)
                    repeat = before
            elif c == "\\":
                t = self.backslash(t)
            else:
                self.push("lit")  # includes ^ $ . — real (non-pseudo) operands
                t = t[1:]
            last_repeat = repeat
        self._close()
        if len(self.stack) != 1:
            raise GoRegexpError("missing closing )", self.whole)

    def backslash(self, t: str) -> str:
        if len(t) >= 2:
            nxt = t[1]
            if nxt in "AbBz":
                self.push("assert")
                return t[2:]
            if nxt == "C":
                raise GoRegexpError("invalid escape sequence", t[:2])
            if nxt == "Q":
                lit, sep, rest = t[2:].partition("\\E")
                for _ in lit:
                    self.push("lit")
                return rest if sep else ""
        rest = _unicode_class(t)
        if rest is None and t[:2] in _PERL_CLASSES:
            rest = t[2:]
        if rest is None:
            rest = _escape(t)
        self.push("lit")
        return rest

    def perl_flags(self, s: str) -> str:
        """``(?flags)``, ``(?flags:re)``, named captures; lookarounds are refused."""
        t = s
        starts_p = len(t) > 4 and t[2] == "P" and t[3] == "<"
        starts_name = len(t) > 3 and t[2] == "<"
        if starts_p or starts_name:
            begin = 4 if starts_p else 3
            end = t.find(">")
            if end < 0:
                raise GoRegexpError("invalid named capture", s)
            name = t[begin:end]
            if not name or not all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name):
                raise GoRegexpError("invalid named capture", t[: end + 1])
            self.stack.append(_Node("("))
            return t[end + 1:]
        t = t[2:]
        sign, saw_flag = 1, False
        while t:
            ch, t = t[0], t[1:]
            if ch in "imsU":
                saw_flag = True
            elif ch == "-":
                if sign < 0:
                    break
                sign, saw_flag = -1, False
            elif ch in ":)":
                if sign < 0 and not saw_flag:
                    break
                if ch == ":":
                    self.stack.append(_Node("(", cap=False))
                return t
            else:
                break
        raise GoRegexpError("invalid or unsupported Perl syntax", s[: len(s) - len(t)])

    def char_class(self, s: str) -> str:
        t = s[1:]
        if t.startswith("^"):
            t = t[1:]
        first = True
        while t == "" or t[0] != "]" or first:
            first = False
            if len(t) > 2 and t[0] == "[" and t[1] == ":":
                rest = _posix_class(t)
                if rest is not None:
                    t = rest
                    continue
            rest = _unicode_class(t)
            if rest is not None:
                t = rest
                continue
            if t[:2] in _PERL_CLASSES:
                t = t[2:]
                continue
            rng = t
            lo, t = _class_char(t, s)
            if len(t) >= 2 and t[0] == "-" and t[1] != "]":
                hi, t = _class_char(t[1:], s)
                if hi < lo:
                    raise GoRegexpError("invalid character class range", rng[: len(rng) - len(t)])
        self.push("class")
        return t[1:]


def _repeat_is_valid(node: _Node, n: int) -> bool:
    """regexp/syntax repeatIsValid: nested counted repeats may not exceed ``n`` copies."""
    if node.op == "repeat":
        m = node.max if node.max >= 0 else node.min
        if node.max == 0:
            return True
        if m > n:
            return False
        if m > 0:
            n //= m
    return all(_repeat_is_valid(sub, n) for sub in node.subs)


def _parse_int(s: str) -> tuple[int, str] | None:
    if not s or not s[0].isdigit() or not s[0].isascii():
        return None
    if len(s) >= 2 and s[0] == "0" and s[1] in "0123456789":
        return None  # no leading zeros
    end = 0
    while end < len(s) and s[end] in "0123456789":
        end += 1
    digits, n = s[:end], 0
    for ch in digits:
        if n >= 100_000_000:
            n = -1
            break
        n = n * 10 + int(ch)
    return n, s[end:]


def _parse_repeat(s: str) -> tuple[int, int, str] | None:
    """``{n}``, ``{n,}`` (max -1) or ``{n,m}``; None when ``{`` is a literal."""
    parsed = _parse_int(s[1:])
    if parsed is None:
        return None
    lo, s = parsed
    if not s:
        return None
    if s[0] != ",":
        hi = lo
    else:
        s = s[1:]
        if not s:
            return None
        if s[0] == "}":
            hi = -1
        else:
            parsed = _parse_int(s)
            if parsed is None:
                return None
            hi, s = parsed
            if hi < 0:
                lo = -1
    if not s or s[0] != "}":
        return None
    return lo, hi, s[1:]


def _unicode_class(s: str) -> str | None:
    """``\\pL``, ``\\p{Greek}``, ``\\P{^Han}``: the rest after it, None if not one, or an error."""
    if len(s) < 2 or s[0] != "\\" or s[1] not in "pP":
        return None
    t = s[2:]
    if t[:1] != "{":
        seq = s[: 3] if t else s
        name, rest = seq[2:], s[len(seq):]
    else:
        end = s.find("}")
        if end < 0:
            raise GoRegexpError("invalid character class range", s)
        seq, rest = s[: end + 1], s[end + 1:]
        name = s[3:end]
    if name.startswith("^"):
        name = name[1:]
    if _norm_unicode_name(name) not in _UNICODE_NAMES or not name:
        raise GoRegexpError("invalid character class range", seq)
    return rest


def _posix_class(s: str) -> str | None:
    i = s.find(":]", 2)
    if i < 0:
        return None
    name = s[: i + 2]
    if name not in _POSIX_CLASSES:
        raise GoRegexpError("invalid character class range", name)
    return s[i + 2:]


def _class_char(s: str, whole_class: str) -> tuple[int, str]:
    if not s:
        raise GoRegexpError("missing closing ]", whole_class)
    if s[0] == "\\":
        return _escape_value(s)
    return ord(s[0]), s[1:]


def _escape(s: str) -> str:
    return _escape_value(s)[1]


def _escape_value(s: str) -> tuple[int, str]:
    """parse.go parseEscape: the rune and the rest, or Go's escape error."""
    t = s[1:]
    if not t:
        raise GoRegexpError("trailing backslash at end of expression", "")
    c, t = t[0], t[1:]
    if c in "1234567" and not (t and t[0] in "01234567"):
        pass  # a backreference: not supported
    elif c in "01234567":
        r = int(c)
        for _ in range(2):
            if not t or t[0] not in "01234567":
                break
            r, t = r * 8 + int(t[0]), t[1:]
        return r, t
    elif c == "x":
        if t:
            c, t = t[0], t[1:]
            if c == "{":
                digits = 0
                r = 0
                while t:
                    c, t = t[0], t[1:]
                    if c == "}":
                        if digits:
                            return r, t
                        break
                    if c not in "0123456789abcdefABCDEF":
                        break
                    r = r * 16 + int(c, 16)
                    if r > 0x10FFFF:
                        break
                    digits += 1
            else:
                y, t = (t[0], t[1:]) if t else ("", t)
                if c and y and c in "0123456789abcdefABCDEF" and y in "0123456789abcdefABCDEF":
                    return int(c + y, 16), t
    elif c in "afnrtv":
        return ord({"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}[c]), t
    elif ord(c) < 0x80 and not c.isalnum():
        return ord(c), t  # escaped punctuation is itself
    raise GoRegexpError("invalid escape sequence", s[: len(s) - len(t)])


def go_regexp_error(pattern: str) -> str | None:
    """The text of Go's ``regexp.Compile(pattern)`` error, or None if Go would accept it."""
    try:
        _GoRegexpParser(pattern).parse()
    except GoRegexpError as exc:
        return str(exc)
    return None


# =============================================================================================
# Structural bounds
# =============================================================================================


#: The options every schema-walking verb shares (``bounds`` are the fields of :class:`Bounds`).
_BOUNDS_OPTIONS = options(required={"max_depth": "integer", "max_nodes": "integer", "max_size": "integer"},
                          optional={"max_branch": "integer", "max_enum": "integer", "max_pattern_len": "integer"})
_SCHEMA_OPTIONS = {"prefix": "string", "bounds": _BOUNDS_OPTIONS, "schema": "object"}
_REF_OPTIONS = {"refs": {"const": "inline"}, "ref_siblings": {"enum": ["ignore", "merge"]}}


@dataclass(frozen=True)
class Bounds:
    max_depth: int
    max_nodes: int
    max_size: int
    max_branch: int = 0
    max_enum: int = 0
    max_pattern_len: int = 0  # 0 disables the pattern length and compile checks, as upstream

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Bounds":
        return cls(**{k: int(v) for k, v in options.items()})


@dataclass(frozen=True)
class Problem:
    code: str
    params: Mapping[str, Any]
    path: tuple[Any, ...] = ()  # where in the walked value, for the linter's pointer


class _Found(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _SchemaWalker:
    """``SchemaBounds.walk``: depth (root 1), object nodes, forbidden keywords, enum size,
    primitive ``type``, compilable ``pattern``, branch arms; data keywords are not walked and
    ``properties``-style wrapper maps are not levels."""

    def __init__(self, bounds: Bounds, vocab: Vocabulary) -> None:
        self.b, self.v = bounds, vocab
        self.nodes = 0

    def fail(self, code: str, path: tuple[Any, ...], **params: Any) -> None:
        raise _Found(Problem(code, params, path))

    def walk(self, value: Any, depth: int, path: tuple[Any, ...]) -> None:
        b, v = self.b, self.v
        if depth > b.max_depth:
            self.fail("depth", path, limit=b.max_depth)
        if not isinstance(value, dict):
            return
        self.nodes += 1
        if self.nodes > b.max_nodes:
            self.fail("nodes", path, limit=b.max_nodes)
        for keyword in v.forbidden:
            if keyword in value:
                self.fail("ref", path + (keyword,), keyword=keyword)
        enum = value.get("enum")
        if isinstance(enum, list) and len(enum) > b.max_enum:
            self.fail("enum", path + ("enum",), limit=b.max_enum)
        self.check_type(value, path)
        self.check_pattern(value, path)
        self.check_pattern_keys(value, path)
        for keyword in v.branches:
            arms = value.get(keyword)
            if isinstance(arms, list) and len(arms) > b.max_branch:
                self.fail("branch", path + (keyword,), keyword=keyword, limit=b.max_branch)
        # Array elements and child-map values are walked even when scalar (only the depth check
        # applies to them), so they are visited only where that check can fail.
        deep = depth + 1 > b.max_depth
        for key, item in value.items():
            if key in v.data:
                continue
            if isinstance(item, dict):
                if key not in v.child_maps:
                    self.walk(item, depth + 1, path + (key,))
                    continue
                children: Any = item.items()
            elif isinstance(item, list):
                children = enumerate(item)
            else:
                continue
            for name, sub in children:
                if deep or isinstance(sub, dict):
                    self.walk(sub, depth + 1, path + (key, name))

    def check_type(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        if "type" not in node:
            return
        raw, where = node["type"], path + ("type",)
        if isinstance(raw, str):
            if raw not in self.v.types:
                self.fail("type", where, value=raw)
        elif isinstance(raw, list):
            for item in raw:
                if not isinstance(item, str):
                    self.fail("type-element", where)
                if item not in self.v.types:
                    self.fail("type", where, value=item)
        else:
            self.fail("type-shape", where)

    def check_pattern(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        limit = self.b.max_pattern_len
        if limit <= 0 or "pattern" not in node:
            return
        raw, where = node["pattern"], path + ("pattern",)
        if not isinstance(raw, str):
            self.fail("pattern-shape", where)
        length = utf8_len(raw)
        if length > limit:
            self.fail("pattern-length", where, length=length, limit=limit)
        error = go_regexp_error(raw)
        if error is not None:
            self.fail("pattern", where, error=error)

    def check_pattern_keys(self, node: dict[str, Any], path: tuple[Any, ...]) -> None:
        """Newest: the keys of ``patternProperties`` are patterns too, bounded and compiled."""
        limit = self.b.max_pattern_len
        for keyword in self.v.pattern_keys if limit > 0 else ():
            names = node.get(keyword)
            for name in names if isinstance(names, dict) else ():
                where = path + (keyword, name)
                length = utf8_len(name)
                if length > limit:
                    self.fail("pattern-key-length", where, length=length, limit=limit)
                error = go_regexp_error(name)
                if error is not None:
                    self.fail("pattern-key", where, error=error)


def walk_schema(schema: dict[str, Any], bounds: Bounds, vocab: Vocabulary) -> Problem | None:
    try:
        _SchemaWalker(bounds, vocab).walk(schema, 1, ())
    except _Found as found:
        return found.problem
    return None


def walk_object(value: Any, bounds: Bounds) -> Problem | None:
    """``ObjectBounds.walk``: every value is depth-checked (root 1); every object is a node."""
    nodes = 0

    def walk(item: Any, depth: int, path: tuple[Any, ...]) -> None:
        nonlocal nodes
        if depth > bounds.max_depth:
            raise _Found(Problem("depth", {"limit": bounds.max_depth}, path))
        if isinstance(item, dict):
            nodes += 1
            if nodes > bounds.max_nodes:
                raise _Found(Problem("nodes", {"limit": bounds.max_nodes}, path))
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            return
        deep = depth + 1 > bounds.max_depth
        for key, sub in children:
            if deep or isinstance(sub, (dict, list)):
                walk(sub, depth + 1, path + (key,))

    try:
        walk(value, 1, ())
    except _Found as found:
        return found.problem
    return None


class _TooBig(Exception):
    pass


# Where Go's json.Marshal writes more bytes than Python's compact ``ensure_ascii=False`` text:
# the HTML-safe escapes (one byte becomes six) and U+2028/U+2029 (three bytes become six).
_GO_WIDER = (("<", 5), (">", 5), ("&", 5), ("\u2028", 3), ("\u2029", 3))
_LITERALS = re.compile(r"true|false|null")


def _compact_text(value: Any) -> str | None:
    """Python's compact JSON text of a decoded value (C speed), or ``None`` where it refuses."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None


def _go_size_of_text(text: str) -> int | None:
    """``len(json.Marshal(value))`` from :func:`_compact_text`, or ``None`` where the two texts
    differ by more than a count of characters: a float (Go keeps the number literal), ``\\b``
    or ``\\f`` (Go writes ``\\u0008``). Map keys are sorted by Go but not here, which changes
    no length. The tools schemas of every request go through this, so it runs at C speed
    instead of one Python call per string."""
    unescaped = text.replace("\\\\", "") if "\\" in text else text
    if "\\b" in unescaped or "\\f" in unescaped:
        return None
    outside = "".join(unescaped.replace('\\"', "").split('"')[::2])  # the text outside strings
    if any(c in outside for c in ".eE"):  # a float (true and false hold an e)
        if any(c in _LITERALS.sub("", outside) for c in ".eE"):
            return None
    size = len(text.encode("utf-8", errors="surrogatepass")) if not text.isascii() else len(text)
    return size + sum(text.count(ch) * extra for ch, extra in _GO_WIDER)


def marshaled_size(value: Any, limit: int | None = None) -> int:
    """``len(json.Marshal(value))``; with a ``limit`` it stops early and returns some size above it."""
    text = _compact_text(value)
    fast = _go_size_of_text(text) if text is not None else None
    if fast is not None:
        return fast
    total = 0

    def add(n: int) -> None:
        nonlocal total
        total += n
        if limit is not None and total > limit:
            raise _TooBig()

    def string(text: str) -> None:
        if limit is not None and len(text) + 2 > limit - total:
            add(len(text) + 2)  # already over: every character is at least one byte
        encoded = gojson.go_string(text)
        add(len(encoded) if encoded.isascii() else len(encoded.encode("utf-8", errors="surrogatepass")))

    def size(item: Any) -> None:
        if isinstance(item, str):
            string(item)
        elif isinstance(item, dict):
            add(2 + max(len(item) - 1, 0) + len(item))  # braces, commas, colons
            for key, sub in item.items():
                string(key)
                size(sub)
        elif isinstance(item, list):
            add(2 + max(len(item) - 1, 0))
            for sub in item:
                size(sub)
        else:
            add(len(gojson.dumps(item)))

    try:
        size(value)
    except _TooBig:
        return total
    return total


# =============================================================================================
# Bounded JSON-Schema sites (tools parameters, response_format schema, structured_outputs.json)
# =============================================================================================


def _pointer(base: str, path: tuple[Any, ...]) -> str:
    return child(base, *path) if path else base


def bounded_schema(
    ctx: Context, site: Site, holder: dict[str, Any], key: str, pointer: str, prefix: str,
) -> Iterator[Hit | Change]:
    """Inline local refs (when ``refs: inline`` and the inline rule is in force), then walk the
    schema and check its serialized size — the order of ``tools.go`` / ``response_format.go``."""
    options = site.options
    bounds = Bounds.from_options(options["bounds"])
    vocab = Vocabulary.from_options(options["schema"])
    if not ctx.code_applies(site, "pattern-key"):
        vocab = replace(vocab, pattern_keys=())
    schema, inlined = holder[key], None
    verdict = _verdict(schema, bounds, vocab)
    problem, size = verdict.problem, verdict.size
    if options.get("refs") == "inline" and ctx.code_applies(site, "inline") and verdict.mentions_refs:
        try:
            schema, inlined = dereference(schema, vocab, bounds.max_nodes, options.get("ref_siblings", "ignore"))
        except RefError as exc:
            yield Hit(pointer, exc.code, {"prefix": prefix, **exc.params})
            return
        except NodeLimit:
            yield Hit(pointer, "nodes", {"prefix": prefix, "limit": bounds.max_nodes})
            return
        problem, size = walk_schema(schema, bounds, vocab), None
    if problem is not None:
        yield Hit(_pointer(pointer, problem.path), problem.code, {"prefix": prefix, **problem.params})
        return  # a rejected inlined copy is not written back: it may nest far too deep to keep
    if inlined is not None:
        holder[key] = schema
        detail = f"{inlined} local $ref inlined" if inlined else "unused definition containers removed"
        yield Change(pointer, MISSING, MISSING, detail, "inline")
    if bounds.max_size > 0:
        if size is None:
            size = marshaled_size(schema, bounds.max_size)
        if size > bounds.max_size:
            yield Hit(pointer, "size", {"prefix": prefix, "limit": bounds.max_size})


@dataclass(frozen=True)
class _Verdict:
    mentions_refs: bool
    problem: Problem | None
    size: int | None  # json.Marshal length (above the limit may be any size above it)


_VERDICTS: dict[tuple[str, Bounds, Vocabulary], _Verdict] = {}
_VERDICT_TEXT_LIMIT = 1 << 14  # the tools size bound: larger schemas are judged each time, never kept
_VERDICTS_KEPT = 256  # at most 4 MiB of keys, also in the reference gateway


def _verdict(schema: Any, bounds: Bounds, vocab: Vocabulary) -> _Verdict:
    """Whether a schema mentions refs, the walker's first problem and its size: all three
    depend only on the schema's JSON text (key order included) and the bounds, so they are
    remembered by that text. Agents send the same tool definitions with every request, and
    the linter sees thousands of requests per log."""
    text = _compact_text(schema)
    text_size = _go_size_of_text(text) if text is not None else None
    # Only a text that measures exactly is a key: Python prints the floats 1.0 and 1.00 alike.
    key = (text, bounds, vocab) if text_size is not None and len(text) <= _VERDICT_TEXT_LIMIT else None
    known = _VERDICTS.get(key) if key is not None else None
    if known is not None:
        return known
    problem = walk_schema(schema, bounds, vocab)
    size = None
    if problem is None and bounds.max_size > 0:
        size = text_size if text_size is not None else marshaled_size(schema, bounds.max_size)
    verdict = _Verdict(mentions_refs(schema, vocab), problem, size)
    if key is not None:
        if len(_VERDICTS) >= _VERDICTS_KEPT:
            _VERDICTS.clear()  # a log with endlessly varied schemas: start over, bounded
        _VERDICTS[key] = verdict
    return verdict


# =============================================================================================
# tools / tool_choice (contract.md §2.3)
# =============================================================================================


@check("tools", options=options(required={"tool_type": "string", **_SCHEMA_OPTIONS},
                                 optional={"strip": "strings", **_REF_OPTIONS}, delegates=True))
def tools(ctx: Context, site: Site) -> Iterator[Hit | Change]:
    """``ToolsValidator``: array shape, each tool's shape and name, ``strict`` stripped, and the
    bounded ``function.parameters`` schema. Every tool is checked (upstream stops at the first)."""
    if not isinstance(site.value, list):
        yield Hit(site.pointer, "wrapper")
        return
    for index, tool in enumerate(site.value):
        yield from _tool(ctx, site, index, tool, child(site.pointer, index))


def _tool(ctx: Context, site: Site, index: int, tool: Any, pointer: str) -> Iterator[Hit | Change]:
    options = site.options
    if not isinstance(tool, dict):
        yield Hit(pointer, "tool-shape", {"index": index})
        return
    if tool.get("type") != options["tool_type"] or not isinstance(tool.get("type"), str):
        yield Hit(child(pointer, "type"), "tool-type", {"index": index, "type": options["tool_type"]})
        return
    fn = tool.get("function")
    if not isinstance(fn, dict):
        yield Hit(child(pointer, "function"), "function-shape", {"index": index})
        return
    name = fn.get("name")
    name_pointer = child(pointer, "function", "name")
    if not isinstance(name, str) or name == "":
        yield Hit(name_pointer, "name", {"index": index})
        return
    if not go_trim_space(name):
        yield Hit(name_pointer, "blank-tool-name", {"index": index})
        if ctx.code_applies(site, "blank-tool-name"):
            return
    for key in options.get("strip", ()):
        if key in fn:
            before = fn.pop(key)
            yield Change(child(pointer, "function", key), before, MISSING, f"tools[{index}].function.{key} removed", key)
    if isinstance(fn.get("parameters"), dict):
        prefix = options["prefix"].format(index=index)
        yield from bounded_schema(ctx, site, fn, "parameters", child(pointer, "function", "parameters"), prefix)


@check("tool-choice", options=options(required={"values": "strings", "function_type": "string", "max_name_length": "integer"}, delegates=True))
def tool_choice(ctx: Context, site: Site) -> Iterator[Hit]:
    """``ToolChoiceValidator``: one of the allowed strings, or ``{type: function, function: {name}}``."""
    value, options = site.value, site.options
    allowed = options["values"]
    params = {"allowed": ", ".join(gojson.go_string(v) for v in allowed), "type": options["function_type"]}
    if isinstance(value, str):
        if value not in allowed:
            yield Hit(site.pointer, "value", params)
        return
    if not isinstance(value, dict):
        yield Hit(site.pointer, "value", params)
        return
    if value.get("type") != options["function_type"] or not isinstance(value.get("type"), str):
        yield Hit(child(site.pointer, "type"), "type", params)
        return
    fn = value.get("function")
    if not isinstance(fn, dict):
        yield Hit(child(site.pointer, "function"), "function", params)
        return
    name, name_pointer = fn.get("name"), child(site.pointer, "function", "name")
    if not isinstance(name, str) or name == "":
        yield Hit(name_pointer, "name", params)
        return
    if not go_trim_space(name):
        yield Hit(name_pointer, "blank-tool-choice-name", params)
        if ctx.code_applies(site, "blank-tool-choice-name"):
            return
    limit = int(options["max_name_length"])
    if utf8_len(name) > limit:
        yield Hit(name_pointer, "name-too-long", {**params, "length": utf8_len(name), "limit": limit})


# =============================================================================================
# response_format (contract.md §2.4)
# =============================================================================================


def _go_match(pattern: str, text: str) -> bool:
    """``regexp.MatchString`` for the simple anchored name pattern: Go's ``$`` is end of text."""
    match = re.search(pattern, text)
    return match is not None and (not pattern.endswith("$") or match.end() == len(text))


@check("response-format", options=options(
    required={"types": "strings", "schema_type": "string", "max_name_length": "integer", "name_pattern": "string",
              **_SCHEMA_OPTIONS},
    optional=_REF_OPTIONS, delegates=True))
def response_format(ctx: Context, site: Site) -> Iterator[Hit | Change]:
    """``ResponseFormatValidator``: wrapper, ``type``, and for json_schema the name and the
    bounded schema (local refs inlined first where the inline rule is in force)."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper")
        return
    kind = value.get("type")
    if not isinstance(kind, str) or not go_trim_space(kind):
        yield Hit(child(site.pointer, "type"), "type-missing")
        return
    types = options["types"]
    if kind not in types:
        yield Hit(child(site.pointer, "type"), "type-unsupported", {"value": kind, "allowed": ", ".join(types)})
        return
    if kind != options["schema_type"]:
        return
    wrapper_pointer = child(site.pointer, kind)
    wrapper = value.get(kind)
    if not isinstance(wrapper, dict):
        yield Hit(wrapper_pointer, "json-schema-wrapper")
        return
    yield from _schema_name(ctx, site, wrapper.get("name"), child(wrapper_pointer, "name"))
    if not isinstance(wrapper.get("schema"), dict):
        yield Hit(child(wrapper_pointer, "schema"), "schema-shape")
        return
    yield from bounded_schema(ctx, site, wrapper, "schema", child(wrapper_pointer, "schema"), options["prefix"])


def _schema_name(ctx: Context, site: Site, name: Any, pointer: str) -> Iterator[Hit]:
    options = site.options
    if not isinstance(name, str) or name == "":
        yield Hit(pointer, "name")
        return
    if not go_trim_space(name):
        yield Hit(pointer, "blank-schema-name")
        if ctx.code_applies(site, "blank-schema-name"):
            return
    limit = int(options["max_name_length"])
    if utf8_len(name) > limit:
        yield Hit(pointer, "name-too-long", {"limit": limit, "length": utf8_len(name)})
        return
    if not _go_match(options["name_pattern"], name):
        yield Hit(pointer, "name-pattern", {"pattern": options["name_pattern"]})


# =============================================================================================
# structured_outputs (contract.md §2.5)
# =============================================================================================


@check("object-shape", options=NO_OPTIONS)
def object_shape(ctx: Context, site: Site) -> Iterator[Hit]:
    """The value is not a JSON object."""
    if not isinstance(site.value, dict):
        yield Hit(site.pointer, "wrapper", {"field": site.key})


@check("field-conflict", options=options(required={"with": "string"}))
def field_conflict(ctx: Context, site: Site) -> Iterator[Hit]:
    """The field may not be combined with ``with`` (present in the body, even as null)."""
    other = site.options["with"]
    if other in ctx.body:
        yield Hit(site.pointer, params={"field": site.key, "other": other})


@check("structured-outputs", options=options(
    required={"constraints": "strings", "modifiers": "strings", "regex_fields": "strings", "bool_fields": "strings",
              **_SCHEMA_OPTIONS, "max_regex_len": "integer", "max_choice_entries": "integer",
              "max_choice_entry_len": "integer", "max_choice_total": "integer", "max_grammar_len": "integer",
              "max_grammar_nesting": "integer", "grammar_open": "string", "grammar_close": "string",
              "max_structural_tag_len": "integer", "structural_tag_object_from": "string"},
    optional=_REF_OPTIONS, delegates=True))
def structured_outputs(ctx: Context, site: Site) -> Iterator[Hit]:
    """``StructuredOutputsValidator`` after the route gate, shape and conflict checks: closed
    sub-key set, exactly one constraint, then each constraint and modifier in upstream order."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        return  # the wrapper target reported it
    constraints, modifiers = options["constraints"], options["modifiers"]
    known = set(constraints) | set(modifiers)
    for key in value:
        if key not in known:
            yield Hit(child(site.pointer, key), "unknown", {"key": key})
    chosen = [name for name in constraints if value.get(name) is not None]
    if len(chosen) != 1:
        code = "exactly-one-none" if not chosen else "exactly-one-many"
        yield Hit(site.pointer, code, {"constraints": "/".join(constraints), "count": len(chosen), "names": ", ".join(chosen)})
    for name in list(constraints) + list(modifiers):
        item = value.get(name)
        if item is not None:
            yield from _structured_field(ctx, site, value, name, item, child(site.pointer, name))


def _structured_field(ctx: Context, site: Site, holder: dict[str, Any], name: str, item: Any, pointer: str) -> Iterator[Hit]:
    options = site.options
    if name == "json":
        if not isinstance(item, dict):
            yield Hit(pointer, "json-shape")
        else:
            yield from bounded_schema(ctx, site, holder, name, pointer, options["prefix"])
    elif name in options["regex_fields"]:
        yield from _regex_field(name, item, pointer, int(options["max_regex_len"]))
    elif name == "choice":
        yield from _choice(item, pointer, options)
    elif name == "grammar":
        yield from _grammar(item, pointer, options)
    elif name in options["bool_fields"]:
        if not isinstance(item, bool):
            yield Hit(pointer, "bool-field" if name in options["constraints"] else "flag", {"field": name})
    elif name == "structural_tag":
        yield from _structural_tag(ctx, item, pointer, options)


def _regex_field(name: str, item: Any, pointer: str, limit: int) -> Iterator[Hit]:
    if not isinstance(item, str):
        yield Hit(pointer, "regex-shape", {"field": name})
        return
    length = utf8_len(item)
    if length > limit:
        yield Hit(pointer, "regex-length", {"field": name, "length": length, "limit": limit})
        return
    error = go_regexp_error(item)
    if error is not None:
        yield Hit(pointer, "regex-compile", {"field": name, "error": error})


def _choice(item: Any, pointer: str, options: Mapping[str, Any]) -> Iterator[Hit]:
    if not isinstance(item, list) or not item:
        yield Hit(pointer, "choice-shape")
        return
    keys = ("max_choice_entries", "max_choice_entry_len", "max_choice_total")
    max_entries, max_entry, max_total = (int(options[k]) for k in keys)
    if len(item) > max_entries:
        yield Hit(pointer, "choice-count", {"count": len(item), "limit": max_entries})
        return
    total = 0
    for index, entry in enumerate(item):
        where = child(pointer, index)
        if not isinstance(entry, str):
            yield Hit(where, "choice-element", {"index": index})
            return
        length = utf8_len(entry)
        if length > max_entry:
            yield Hit(where, "choice-entry", {"index": index, "length": length, "limit": max_entry})
            return
        total += length
        if total > max_total:
            yield Hit(where, "choice-total", {"total": total, "limit": max_total})
            return


def _grammar(item: Any, pointer: str, options: Mapping[str, Any]) -> Iterator[Hit]:
    """Length, then active bracket nesting (quoted brackets count too, as upstream)."""
    if not isinstance(item, str):
        yield Hit(pointer, "grammar-shape")
        return
    length, limit = utf8_len(item), int(options["max_grammar_len"])
    if length > limit:
        yield Hit(pointer, "grammar-length", {"length": length, "limit": limit})
        return
    opening, closing = options["grammar_open"], options["grammar_close"]
    max_nesting = int(options["max_grammar_nesting"])
    depth = deepest = 0
    for ch in item:
        if ch in opening:
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_nesting:
                yield Hit(pointer, "grammar-nesting", {"depth": deepest, "limit": max_nesting})
                return
        elif ch in closing and depth > 0:
            depth -= 1


def _structural_tag(ctx: Context, item: Any, pointer: str, options: Mapping[str, Any]) -> Iterator[Hit]:
    limit = int(options["max_structural_tag_len"])
    if ctx.at_least(options["structural_tag_object_from"]):
        if not isinstance(item, dict):
            yield Hit(pointer, "structural-tag-object")
            return
        length = marshaled_size(item)
    else:
        if not isinstance(item, str):
            yield Hit(pointer, "structural-tag-string")
            return
        length = utf8_len(item)
    if length > limit:
        yield Hit(pointer, "structural-tag-length", {"length": length, "limit": limit})


# =============================================================================================
# metadata (contract.md §2.6) and chat_template_kwargs (§2.1 row 39)
# =============================================================================================


@check("metadata", options=options(required={"max_keys": "integer", "max_key_length": "integer", "max_value_length": "integer"}))
def metadata(ctx: Context, site: Site) -> Iterator[Hit]:
    """``MetadataValidator``: an object of at most ``max_keys`` string entries; byte lengths."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper")
        return
    max_keys = int(options["max_keys"])
    if len(value) > max_keys:
        yield Hit(site.pointer, "key-count", {"count": len(value), "limit": max_keys})
        return
    max_key, max_value = int(options["max_key_length"]), int(options["max_value_length"])
    for key, item in value.items():
        where = child(site.pointer, key)
        if utf8_len(key) > max_key:
            yield Hit(where, "key-length", {"key": key, "length": utf8_len(key), "limit": max_key})
        elif not isinstance(item, str):
            yield Hit(where, "value-type", {"key": key})
        elif utf8_len(item) > max_value:
            yield Hit(where, "value-length", {"key": key, "length": utf8_len(item), "limit": max_value})


@check("chat-template-kwargs", options=options(
    required={"forbidden_keys": "strings", "prefix": "string", "bounds": _BOUNDS_OPTIONS}, delegates=True))
def chat_template_kwargs(ctx: Context, site: Site) -> Iterator[Hit]:
    """``ChatTemplateKwargsValidator``: an object without keys that override
    ``apply_hf_chat_template``'s arguments, then depth / nodes / serialized size."""
    value, options = site.value, site.options
    if not isinstance(value, dict):
        yield Hit(site.pointer, "wrapper")
        return
    forbidden = set(options["forbidden_keys"])
    for key in value:
        if key in forbidden:
            yield Hit(child(site.pointer, key), "forbidden", {"key": key})
    bounds = Bounds.from_options(options["bounds"])
    prefix = options["prefix"]
    problem = walk_object(value, bounds)
    if problem is not None:
        yield Hit(_pointer(site.pointer, problem.path), problem.code, {"prefix": prefix, **problem.params})
    elif marshaled_size(value, bounds.max_size) > bounds.max_size:
        yield Hit(site.pointer, "size", {"prefix": prefix, "limit": bounds.max_size})
