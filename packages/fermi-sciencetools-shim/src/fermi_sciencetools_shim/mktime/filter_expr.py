"""A small cfitsio row-filter language, parsed into a tree and evaluated on numpy columns.

Supported (the subset used for FT2 filters): column names (case-insensitive, ``COL[i]``
for a 1-based vector element), numbers (decimal, ``o17`` octal, ``0x1F`` hex), ``T``/``F``,
``+ - * / %``, ``== = != < <= > >=``, ``&& || !`` and ``.and. .or. .not. .eq. .ne. .lt.
.le. .gt. .ge.``, bitwise ``& |``, parentheses and the functions ``ABS SQRT EXP LOG LOG10
SIN COS TAN ARCSIN ARCCOS ARCTAN`` and ``ANGSEP(ra1, dec1, ra2, dec2)`` (degrees, haversine
in double precision). Numbers are compared in double precision as cfitsio does; ``/`` and
``%`` on two integers truncate toward zero like C. User text is never passed to ``eval``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from fermi_sciencetools_shim.errors import ParameterError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<dotop>\.(?:and|or|not|eq|ne|lt|le|gt|ge)\.)
  | (?P<hex>0[xX][0-9a-fA-F]+)
  | (?P<octal>[oO][0-7]+(?![A-Za-z0-9_]))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>=!&|(),\[\]])
    """,
    re.VERBOSE | re.IGNORECASE,
)
_DOT_OPS = {
    ".and.": "&&",
    ".or.": "||",
    ".not.": "!",
    ".eq.": "==",
    ".ne.": "!=",
    ".lt.": "<",
    ".le.": "<=",
    ".gt.": ">",
    ".ge.": ">=",
}
_UNARY_FUNCS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "ABS": np.abs,
    "SQRT": np.sqrt,
    "EXP": np.exp,
    "LOG": np.log,
    "LOG10": np.log10,
    "SIN": np.sin,
    "COS": np.cos,
    "TAN": np.tan,
    "ARCSIN": np.arcsin,
    "ARCCOS": np.arccos,
    "ARCTAN": np.arctan,
}
_FUNC_ARITY = {**{name: 1 for name in _UNARY_FUNCS}, "ANGSEP": 4}
# binary operator -> precedence (higher binds tighter), C-like
_BINARY = {"||": 1, "&&": 2, "|": 3, "&": 4, "==": 5, "!=": 5, "<": 6, "<=": 6, ">": 6, ">=": 6}
_BINARY.update({"+": 7, "-": 7, "*": 8, "/": 8, "%": 8})


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    pos: int  # 0-based character offset
    value: float | int | None = None


@dataclass(frozen=True)
class Node:
    """A node of the expression tree."""

    kind: str  # "num", "bool", "col", "unary", "binary", "call"
    pos: int
    value: object = None
    children: tuple[Node, ...] = ()


def _error(text: str, pos: int, reason: str) -> ParameterError:
    if len(text) > 80:  # quote only the neighbourhood of a very long expression
        lo = max(pos - 30, 0)
        excerpt = ("..." if lo else "") + text[lo : pos + 30] + ("..." if pos + 30 < len(text) else "")
        return ParameterError(
            "filter", f"{reason} at position {pos + 1} of the filter ({len(text)} characters): {excerpt!r}"
        )
    return ParameterError("filter", f"{reason} at position {pos + 1} of {text!r}")


def tokenize(text: str) -> list[Token]:
    """Split a filter expression into tokens (a :class:`ParameterError` names a bad character)."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        word = m.group()
        if kind == "dotop":
            tokens.append(Token("op", _DOT_OPS[word.lower()], pos))
        elif kind == "hex":
            tokens.append(Token("number", word, pos, int(word, 16)))
        elif kind == "octal":
            tokens.append(Token("number", word, pos, int(word[1:], 8)))
        elif kind == "number":
            is_int = re.fullmatch(r"\d+", word) is not None
            value: float | int = int(word) if is_int else float(word.replace("d", "e").replace("D", "e"))
            tokens.append(Token("number", word, pos, value))
        elif kind in ("name", "op"):
            tokens.append(Token(kind, "==" if word == "=" else word, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


#: Deepest nesting of parentheses, function calls and unary operators the parser accepts
#: (the parser recurses once per level; long flat chains such as ``a && b && ...`` have no limit).
MAX_NESTING = 64


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _error(
                self.text,
                tok.pos,
                f"expression nested more than {MAX_NESTING} levels deep (parentheses, functions or unary operators)",
            )

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, op: str) -> Token:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            found = "end of expression" if tok.kind == "end" else repr(tok.text)
            raise _error(self.text, tok.pos, f"expected {op!r}, found {found}")
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise _error(self.text, 0, "empty expression")
        node = self.binary(1)
        tok = self.peek()
        if tok.kind != "end":
            raise _error(self.text, tok.pos, f"unexpected {tok.text!r}")
        return node

    def binary(self, level: int) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            prec = _BINARY.get(tok.text) if tok.kind == "op" else None
            if prec is None or prec < level:
                return left
            self.take()
            right = self.binary(prec + 1)
            left = Node("binary", tok.pos, tok.text, (left, right))

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("!", "-", "+"):
            self.take()
            self.enter(tok)
            node = Node("unary", tok.pos, tok.text, (self.unary(),))
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return Node("num", tok.pos, tok.value)
        if tok.kind == "op" and tok.text == "(":
            self.enter(tok)
            node = self.binary(1)
            self.expect(")")
            self.depth -= 1
            return node
        if tok.kind == "name":
            upper = tok.text.upper()
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == "(":
                return self.call(tok, upper)
            if nxt.kind == "op" and nxt.text == "[":
                self.take()
                index = self.take()
                if index.kind != "number" or not isinstance(index.value, int) or index.value < 1:
                    raise _error(self.text, index.pos, "vector index must be a positive integer")
                self.expect("]")
                return Node("col", tok.pos, (upper, index.value))
            if upper in ("T", "F"):
                return Node("bool", tok.pos, upper == "T")
            return Node("col", tok.pos, (upper, None))
        found = "end of expression" if tok.kind == "end" else repr(tok.text)
        raise _error(self.text, tok.pos, f"expected a value, found {found}")

    def call(self, tok: Token, name: str) -> Node:
        if name not in _FUNC_ARITY:
            raise _error(self.text, tok.pos, f"unknown function {tok.text!r}")
        self.expect("(")
        self.enter(tok)
        args = [self.binary(1)]
        while self.peek().kind == "op" and self.peek().text == ",":
            self.take()
            args.append(self.binary(1))
        self.expect(")")
        self.depth -= 1
        if len(args) != _FUNC_ARITY[name]:
            raise _error(self.text, tok.pos, f"{name} takes {_FUNC_ARITY[name]} argument(s), got {len(args)}")
        return Node("call", tok.pos, name, tuple(args))


def angsep(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    """Angular separation in degrees (haversine, double precision) as cfitsio ``angsep``."""
    deg = np.pi / 180.0
    sra = np.sin((np.asarray(ra2, np.float64) - ra1) * deg / 2.0)
    sdec = np.sin((np.asarray(dec2, np.float64) - dec1) * deg / 2.0)
    a = np.clip(
        sdec * sdec + np.cos(np.asarray(dec1, np.float64) * deg) * np.cos(dec2 * deg) * sra * sra, 0.0, 1.0
    )
    return 2.0 * np.arctan2(np.sqrt(a), np.sqrt(1.0 - a)) / deg


def _is_int(x: np.ndarray) -> bool:
    return np.asarray(x).dtype.kind in "iu"


def _as_bool(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype == bool else x != 0


def _as_num(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.astype(np.int64) if x.dtype == bool else x


class FilterExpression:
    """A parsed filter: :attr:`columns` it needs, :meth:`evaluate` on a column mapping."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = _Parser(text).parse()

    @property
    def columns(self) -> list[str]:
        """Upper-case column names used, in order of first appearance."""
        seen: dict[str, int] = {}
        for node in self._walk(self.tree):
            if node.kind == "col":
                seen.setdefault(node.value[0], node.pos)
        return list(seen)

    def _walk(self, node: Node) -> Iterable[Node]:
        # iterative pre-order walk: a chain of thousands of terms makes a tree that deep
        stack = [node]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(current.children))

    def check_columns(self, available: Iterable[str], where: str = "the FT2 file") -> None:
        """Raise :class:`ParameterError` (with the position) for a column not in ``available``."""
        names = {a.upper() for a in available}
        for node in self._walk(self.tree):
            if node.kind == "col" and node.value[0] not in names:
                raise _error(self.text, node.pos, f"unknown column {node.value[0]!r} (not in {where})")

    def evaluate(self, columns: dict[str, np.ndarray], nrows: int) -> np.ndarray:
        """Return the boolean row mask of the expression on ``columns`` (upper-case keys)."""
        result = self._eval(self.tree, columns)
        result = np.asarray(result)
        if result.dtype != bool:
            raise _error(self.text, 0, "expression does not give a true/false value")
        return np.broadcast_to(result, (nrows,)).copy()

    def _eval(self, root: Node, cols: dict[str, np.ndarray]) -> np.ndarray:
        # iterative post-order evaluation (no recursion, whatever the depth of the tree)
        stack: list[tuple[Node, bool]] = [(root, False)]
        values: list[np.ndarray] = []
        while stack:
            node, expanded = stack.pop()
            if node.children and not expanded:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children))
                continue
            n = len(node.children)
            args = values[len(values) - n :] if n else []
            if n:
                del values[len(values) - n :]
            values.append(self._apply(node, args, cols))
        return values[0]

    def _apply(self, node: Node, args: list[np.ndarray], cols: dict[str, np.ndarray]) -> np.ndarray:
        if node.kind in ("num", "bool"):
            return np.asarray(node.value)
        if node.kind == "col":
            name, index = node.value
            if name not in cols:
                raise _error(self.text, node.pos, f"unknown column {name!r}")
            array = cols[name]
            if index is None:
                if array.ndim > 1:
                    raise _error(self.text, node.pos, f"column {name!r} is a vector; use {name}[i]")
                return array
            if array.ndim != 2 or index > array.shape[1]:
                raise _error(self.text, node.pos, f"column {name!r} has no element {index}")
            return array[:, index - 1]
        if node.kind == "unary":
            x = args[0]
            if node.value == "!":
                return ~_as_bool(x)
            return -_as_num(x) if node.value == "-" else _as_num(x)
        if node.kind == "call":
            if node.value == "ABS":
                return np.abs(_as_num(args[0]))
            numbers = [np.asarray(_as_num(a), dtype=np.float64) for a in args]
            if node.value == "ANGSEP":
                return angsep(*numbers)
            with np.errstate(invalid="ignore", divide="ignore"):
                return _UNARY_FUNCS[node.value](numbers[0])
        return self._binary(node, args[0], args[1])

    def _binary(self, node: Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        op = node.value
        if op == "&&":
            return _as_bool(a) & _as_bool(b)
        if op == "||":
            return _as_bool(a) | _as_bool(b)
        if op in ("&", "|"):
            if not (_is_int(_as_num(a)) and _as_num(b).dtype.kind in "iu"):
                raise _error(self.text, node.pos, f"bitwise {op!r} needs integer operands")
            return (
                np.bitwise_and(_as_num(a), _as_num(b)) if op == "&" else np.bitwise_or(_as_num(a), _as_num(b))
            )
        a, b = _as_num(a), _as_num(b)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
            return {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal}.get(
                op, np.greater if op == ">" else np.greater_equal
            )(x, y)
        if op in ("+", "-", "*"):
            return {"+": np.add, "-": np.subtract, "*": np.multiply}[op](a, b)
        with np.errstate(invalid="ignore", divide="ignore"):
            if _is_int(a) and _is_int(b):
                quotient = np.trunc(np.asarray(a, np.float64) / b)
                return (quotient if op == "/" else a - b * quotient).astype(np.int64)
            x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
            return x / y if op == "/" else np.fmod(x, y)


def parse_filter(text: str) -> FilterExpression:
    """Parse a filter expression (raises :class:`ParameterError` naming ``filter`` and the position)."""
    return FilterExpression(text)
