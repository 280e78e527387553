"""The expression language: Decimal arithmetic, text, conditionals, functions, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import InvalidRecord

from .conftest import Compile, Problems

Evaluate = Callable[..., Any]

RECORD = {"qty": 3, "price": Decimal("19.99"), "name": "Пицца", "first": "Анна", "last": None,
          "items": [Decimal("1.10"), Decimal("2.20")], "code": "A-1", "flag": True, "zero": 0}


@pytest.fixture
def evaluate(compile_mapping: Compile) -> Evaluate:
    """The value of one expression over RECORD (an in mapping of catalog keeps it in attributes)."""
    def run(expression: str, record: dict[str, Any] | None = None) -> Any:
        mapping = compile_mapping(f"""
            system: test
            fields:
              id: {{value: x}}
              name: {{value: x}}
              attributes.result: {{expr: {expression!r}}}
            """.replace("{expression!r}", "'" + expression.replace("'", "''") + "'"), "catalog.in.yaml")
        return mapping.apply(RECORD if record is None else record).attributes.get("result")
    return run


@pytest.mark.parametrize(("expression", "expected"), [
    ("qty * price", Decimal("59.97")),
    ("price * 1.2", Decimal("23.988")),          # 1.2 is read as Decimal, never as a float
    ("qty / 2", Decimal("1.5")),                 # int / int stays exact
    ("round(price * 1.2, 2)", Decimal("23.99")),
    ("-price + 20", Decimal("0.01")),
    ("qty % 2", 1),
    ("sum(items)", Decimal("3.30")),
    ("max(qty, price, null)", Decimal("19.99")),
    ("abs(0 - price)", Decimal("19.99")),
    ("money(0.005)", Decimal("0.01")),
])
def test_arithmetic_is_decimal(evaluate: Evaluate, expression: str, expected: Any) -> None:
    result = evaluate(expression)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("expression", "expected"), [
    ("name + ' x' + string(qty)", "Пицца x3"),
    ("f'{name} × {qty} = {qty * price:.2f}'", "Пицца × 3 = 59.97"),
    ("f'{last}-{first}'", "-Анна"),
    ("concat(code, '/', last, qty)", "A-1/3"),
    ("join(' ', last, first, 'И.')", "Анна И."),
    ("coalesce(last, first)", "Анна"),
    ("upper(replace(code, '-', ''))", "A1"),
    ("len(name)", 5),
    ("'big' if qty > 2 else 'small'", "big"),
    ("qty > 2 and price < 20", True),
    ("zero or 'none'", "none"),
    ("not flag", False),
    ("last is null and code in ['A-1', 'B-2']", True),
    ("1 < qty <= 3", True),
    ("phone('8 999 123 45 67')", "+79991234567"),
    ("index", None),
])
def test_text_logic_and_functions(evaluate: Evaluate, expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_dots_read_record_keys_never_python_attributes(evaluate: Evaluate) -> None:
    assert evaluate("name.__class__") is None
    assert evaluate("item.__class__") is None
    assert evaluate("code.upper") is None


@pytest.mark.parametrize(("expression", "reason"), [
    ("name * 2", "expr: cannot multiply str 'Пицца'; convert text with decimal(...)"),
    ("price + last", "expr: cannot add: a value is missing"),
    ("qty / zero", "expr: [<class 'decimal.DivisionByZero'>]"),
])
def test_runtime_errors_name_the_field(evaluate: Evaluate, expression: str, reason: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        evaluate(expression)
    assert str(caught.value) == f"attributes.result: {reason}"


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os').system('true')", "methods such as .system() cannot be called; call a function "
                                        "instead (known: abs, boolean, coalesce, concat, date, datetime, "
                                        "decimal, email, guid, integer, join, kopecks, len, local_datetime, "
                                        "lower, max, min, money, null_if_empty, part, phone, pick, replace, round, "
                                        "string, sum, to_kopecks, trim, upper, values) (at character 1)"),
    ("name.strip()", "methods such as .strip() cannot be called; call a function instead (use trim(...)) "
                     "(at character 1)"),
    ("lower(name).strip", "only record paths can be read with . or [] (not the result of a function or "
                          "operator) (at character 1)"),
    ("__import__('os')", "unknown function '__import__' (known: abs, boolean, coalesce, concat, date, "
                         "datetime, decimal, email, guid, integer, join, kopecks, len, local_datetime, lower, "
                         "max, min, money, null_if_empty, part, phone, pick, replace, round, string, sum, "
                         "to_kopecks, trim, upper, values) (at character 1)"),
    ("lowr(name)", "unknown function 'lowr' (did you mean 'lower'?) (at character 1)"),
    ("(lambda: 1)()", "only the built-in functions can be called, by name, such as lower(name) (at character 1)"),
    ("[x for x in items]", "comprehensions are not allowed in expressions (at character 1)"),
    ("{'a': 1}", "dictionary displays are not allowed in expressions (at character 1)"),
    ("round(price, ndigits=2)", "round takes positional arguments only (at character 1)"),
    ("trim(name, 1)", "trim takes 1 argument, got 2 (at character 1)"),
    ("price ** 2", "operator ** is not supported; use + - * / % (at character 1)"),
    ("name is 'x'", "'is' compares with null only; use == to compare values (at character 1)"),
    ("items[qty]", "an index must be a number or a text in quotes, such as items[0] or item[\"@Ид\"] "
                   "(at character 7)"),
    ("qty +", "invalid expression: invalid syntax"),
    ("lower(name", "invalid expression at character 6: '(' was never closed"),
    ("const.vat", "unknown constant 'vat' (none are declared) (at character 1)"),
    ("parent.id", "parent goes beyond the record; there are 0 enclosing object(s) here (at character 1)"),
])
def test_refused_expressions(problems: Problems, expression: str, message: str) -> None:
    quoted = "'" + expression.replace("'", "''") + "'"
    found = problems(f"""
        system: test
        fields:
          id: {{value: x}}
          name: {{value: x}}
          attributes.result: {{expr: {quoted}}}
        """, "catalog.in.yaml")
    assert found == [f"catalog.in.yaml:5:29: fields.attributes.result.expr: {message}"]


def test_f_string_conversions_are_refused(problems: Problems) -> None:
    found = problems("""
        system: test
        fields: {id: {value: x}, name: {expr: "f'{name!r}'"}}
        """, "catalog.in.yaml")
    assert len(found) == 1
    assert "conversions such as !r are not allowed in f-strings" in found[0]
