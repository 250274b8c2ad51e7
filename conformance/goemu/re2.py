"""Go regexp/syntax emulation: the error text of Go's ``regexp.Compile`` for RE2 patterns
(moved out of engine/check_schemas.py; the emulated cases are listed below)."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
                lit, sep, quoted_rest = t[2:].partition("\\E")
                for _ in lit:
                    self.push("lit")
                return quoted_rest if sep else ""
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
