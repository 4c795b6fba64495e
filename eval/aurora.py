"""The Aurora SDG queries (v5, CC BY 4.0) run on plain text, as a target-level keyword labeller.

Aurora wrote one Scopus boolean query per SDG target (shared/data/sdg_queries_aurora). We evaluate
them on a passage's words instead of on Scopus: quoted terms (``*`` is a word-suffix wildcard),
``OR``, ``AND``, ``AND NOT`` and ``W/n`` (both sides within n words, either order), with Scopus'
precedence: OR binds tightest, then W/n, then AND, then AND NOT.

This is a baseline for eval/eval_sdg.py (the issue lists the Aurora queries among the public
classifiers), not part of the service: on our dev report passages its precision was too low (0.31)
to use its matches as weak training labels, and at ~45 ms a passage it is too slow for the pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

_NS = {
    "aqd": "http://aurora-network.global/queries/namespace/",
    "dc": "http://dublincore.org/documents/dcmi-namespace/",
}
_TOKEN = re.compile(r'"[^"]*"|\{[^}]*\}|\(|\)|W/\d+|PRE/\d+|[^\s()"{}]+', re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")

Positions = frozenset[int]


@dataclass(frozen=True)
class Term:
    """A quoted term: one word or a phrase."""

    words: tuple[str, ...]  # a word ending in "*" matches any word with that prefix


@dataclass(frozen=True)
class Op:
    """A boolean or proximity operator over two sub-queries."""

    kind: str  # "or", "and", "not", "near"
    left: Node
    right: Node
    distance: int = 0


Node = Term | Op


@dataclass(frozen=True)
class TargetQuery:
    """One query line and the SDG target it was written for."""

    goal: str
    target: str
    query: Node


def words_of(text: str) -> list[str]:
    """Lower-case word tokens; hyphenated words are kept whole and also split (Scopus does both)."""
    return _WORD.findall(text.lower().replace("’", "'"))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(text)
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i].upper() if self.i < len(self.tokens) else ""

    def take(self) -> str:
        self.i += 1
        return self.tokens[self.i - 1]

    def _next_is_not(self) -> bool:
        return self.i + 1 < len(self.tokens) and self.tokens[self.i + 1].upper() == "NOT"

    def parse(self) -> Node:
        node = self.and_not()
        if self.i != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.i]!r} in Aurora query")
        return node

    def and_not(self) -> Node:
        node = self.conjunction()
        while self.peek() == "AND" and self._next_is_not():
            self.i += 2
            node = Op("not", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.near()
        while self.peek() == "AND" and not self._next_is_not():
            self.take()
            node = Op("and", node, self.near())
        return node

    def near(self) -> Node:
        node = self.disjunction()
        while self.peek().startswith(("W/", "PRE/")):
            distance = int(self.take().split("/")[1])
            node = Op("near", node, self.disjunction(), distance)
        return node

    def disjunction(self) -> Node:
        node = self.primary()
        while self.peek() == "OR":
            self.take()
            node = Op("or", node, self.primary())
        return node

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.and_not()
            if self.take() != ")":
                raise ValueError("unbalanced parentheses in Aurora query")
            return node
        phrase = token.strip('"{}').lower()
        words = tuple(w + "*" if phrase.split()[k].endswith("*") else w for k, w in enumerate(_split(phrase)))
        return Term(words)


def _split(phrase: str) -> list[str]:
    return [w.rstrip("*") for w in phrase.split() if w.rstrip("*")]


def _term_positions(term: Term, words: list[str]) -> Positions:
    n = len(term.words)
    if n == 0:
        return frozenset()

    def same(pattern: str, word: str) -> bool:
        return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern

    return frozenset(
        i for i in range(len(words) - n + 1) if all(same(p, words[i + k]) for k, p in enumerate(term.words))
    )


def matches(node: Node, words: list[str]) -> Positions:
    """Word positions where ``node`` is satisfied; empty when the passage does not match."""
    if isinstance(node, Term):
        return _term_positions(node, words)
    left = matches(node.left, words)
    if node.kind == "not":
        return left if left and not matches(node.right, words) else frozenset()
    right = matches(node.right, words)
    if node.kind == "or":
        return left | right
    if not left or not right:
        return frozenset()
    if node.kind == "and":
        return left | right
    near_left = {p for p in left if any(abs(p - q) <= node.distance + 1 for q in right)}
    near_right = {q for q in right if any(abs(p - q) <= node.distance + 1 for p in left)}
    return frozenset(near_left | near_right)


@lru_cache(maxsize=2)
def load_queries(folder: Path) -> tuple[TargetQuery, ...]:
    """Every query line of every target, parsed once."""
    queries = []
    for path in sorted(folder.glob("query_SDG*.xml")):
        root = ElementTree.parse(path).getroot()
        for definition in root.iter(f"{{{_NS['aqd']}}}query-definition"):
            uri = definition.find("dc:identifier", _NS)
            target = (uri.text or "").rsplit("/", 1)[-1] if uri is not None else ""
            for line in definition.iter(f"{{{_NS['aqd']}}}query-line"):
                if target and line.text and line.text.strip():
                    query = _Parser(line.text).parse()
                    queries.append(TargetQuery(target.split(".")[0], target, query))
    return tuple(queries)


def matching_targets(text: str, queries: tuple[TargetQuery, ...]) -> set[str]:
    """SDG targets whose Aurora query matches the text."""
    words = words_of(text)
    return {q.target for q in queries if matches(q.query, words)}
