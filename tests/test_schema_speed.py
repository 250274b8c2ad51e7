"""The tool-schema fast paths give the exact results of the slow ones.

``marshaled_size`` measures most values from the C encoder's text, and ``bounded_schema``
remembers a schema's verdict by its JSON text; neither may change a result: Go's length for
every character Go escapes, number literals kept verbatim, and a remembered verdict never
reused for a different schema or reported at the wrong tool.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gonka_conformance.goemu import json as gojson
from gonka_conformance.engine import check_schemas
from gonka_conformance.engine.check_schemas import marshaled_size
from gonka_conformance.engine.pipeline import analyse, normalize
from gonka_conformance.engine.types import Accepted, Rejected
from models import MINIMAX

TRICKY = st.text(alphabet=st.sampled_from(list('ab"\\/\b\f\n\r\t\x01\x1f\x7f<>&\u2028\u2029é漢\U0001F600 .eE')))
NUMBERS = st.sampled_from(["1.0", "1.00", "2e3", "-0.5E-7", "1e400", "12345678901234567890123"]).map(gojson.Num)
SCALARS = st.one_of(TRICKY, st.integers(), st.booleans(), st.none(), NUMBERS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TRICKY, inner, max_size=4)), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_size_is_go_marshal_length(value: Any) -> None:
    assert marshaled_size(value) == len(gojson.dumps(value).encode("utf-8", errors="surrogatepass"))


def _body(*parameters: dict[str, Any]) -> bytes:
    tools = [{"type": "function", "function": {"name": f"f{i}", "parameters": p}} for i, p in enumerate(parameters)]
    return json.dumps({"model": MINIMAX, "messages": [{"role": "user", "content": "hi"}], "tools": tools}).encode()


def _size_limit() -> int:
    from gonka_conformance.catalogue.loader import load_catalogue
    return int(load_catalogue().by_id["schema-tools"].targets[0].options["bounds"]["max_size"])


def test_remembered_verdict_keeps_number_literals_apart() -> None:
    # Python prints 1.0 and 1.00 alike; Go keeps the literal, so only one of these fits.
    template = '{"type":"object","default":%s,"description":"%s"}'
    pad = _size_limit() - len(template % ("1.0", ""))
    fits = (template % ("1.0", "a" * pad)).encode()
    over = (template % ("1.00", "a" * pad)).encode()
    head = b'{"model":"%s","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function",' % MINIMAX.encode()
    for _ in range(2):  # the second round answers from the memo
        assert isinstance(normalize(head + b'"function":{"name":"f","parameters":' + fits + b"}}]}"), Accepted)
        result = normalize(head + b'"function":{"name":"f","parameters":' + over + b"}}]}")
        assert isinstance(result, Rejected) and result.rule == "schema-tools", result


def test_remembered_problem_is_reported_at_each_tool() -> None:
    bad = {"type": "object", "properties": {"a": {"type": "strin"}}}
    analysis = analyse(_body(bad, {"type": "object"}, bad), model=MINIMAX)
    pointers = sorted(r.pointer for r in analysis.rejections if r.rule.startswith("schema"))
    assert pointers == ["/tools/0/function/parameters/properties/a/type",
                        "/tools/2/function/parameters/properties/a/type"], pointers


def test_memo_stays_bounded() -> None:
    for i in range(check_schemas._VERDICTS_KEPT + 50):
        normalize(_body({"type": "object", "description": f"schema {i}"}), model=MINIMAX)
    assert 0 < len(check_schemas._VERDICTS) <= check_schemas._VERDICTS_KEPT
