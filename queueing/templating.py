"""Waziper-style message templates for bulk sends: `%name%` placeholders and `{a|b}` spintax.

Spintax is spun first, then placeholders are filled, so a recipient's own values (which may hold
braces or pipes) are never spun, and values are never filled again. A placeholder with no value
for this recipient stays as written: texts such as "50% off, 100%" must survive untouched.

A pair of braces is a group when it holds a `|` outside its inner pairs and every inner pair is a
group itself; inner groups are spun first. Other braces are text (`JSON {ok}`), and so is a group
nested deeper than MAX_SPIN_DEPTH.

One /send_bulk renders a template once per recipient, so rendering is bounded three ways:
  * a template is parsed once into a tree (`Template`), and spinning walks only the options it
    picks, never the whole text again;
  * each rendering stops as soon as its output would pass its `limit` (`TooLong`);
  * every parse and rendering of one request draws on one `Budget` of steps (special characters
    parsed, tree nodes walked, placeholders met) and of characters built (`OverBudget`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Rand = Callable[[], float]

PLACEHOLDER_RE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]{0,63})%")
_SPECIAL_SPLIT_RE = re.compile(r"([{}|])")
# Nesting deeper than this is not spintax a person wrote: it stays text.
MAX_SPIN_DEPTH = 50
# One request's work: at most about 0.2 s of CPU for the steps, and a few MB for the characters
# of text built. An honest blast (1,000 recipients, a 300-character text with a dozen groups and
# eight placeholders) takes a fifth of the steps and 6 % of the characters.
STEP_BUDGET = 200_000
CHAR_BUDGET = 4 * 2**20


class RenderError(Exception):
    """Rendering stopped before its end; the message names the limit that stopped it."""


class TooLong(RenderError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Rendered, it would pass {limit} characters (rendering stopped there).")
        self.limit = limit


class OverBudget(RenderError):
    def __init__(self, what: str, budget: int) -> None:
        super().__init__(
            f"Rendering this request's messages takes more than {budget:,} {what}, the limit per "
            "request: send fewer recipients per request, or a shorter template with fewer "
            "placeholders and spintax groups."
        )
        self.budget = budget


@dataclass
class Budget:
    """The work one request may spend on its templates, shared by all its messages.

    `spend` is called before the work it pays for, and refuses (OverBudget) without spending,
    so `steps_used` and `chars_used` never pass their budgets."""

    steps: int = STEP_BUDGET
    chars: int = CHAR_BUDGET
    steps_used: int = 0
    chars_used: int = 0

    def spend(self, *, steps: int = 0, chars: int = 0) -> None:
        if self.steps_used + steps > self.steps:
            raise OverBudget("steps (spintax groups and placeholders)", self.steps)
        if self.chars_used + chars > self.chars:
            raise OverBudget("characters of text", self.chars)
        self.steps_used += steps
        self.chars_used += chars


class Group(tuple[tuple["Node", ...], ...]):
    """`{a|b|c}`: a tuple of options, each a sequence of text and groups."""

    __slots__ = ()


Node = str | Group


class _Frame:
    """An open brace while parsing: the options seen so far."""

    __slots__ = ("current", "depth", "is_text", "options")

    def __init__(self) -> None:
        self.options: list[list[Node]] = []
        self.current: list[Node] = []
        self.is_text = False  # holds a brace pair that is text, so it can never be a group
        self.depth = 0  # the nesting of the groups inside it


def _compact(nodes: list[Node]) -> tuple[Node, ...]:
    """Adjacent text joined, empty text dropped."""
    if len(nodes) < 2:
        return tuple(node for node in nodes if node != "")
    out: list[Node] = []
    run: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            run.append(node)
            continue
        if text := "".join(run):
            out.append(text)
        run = []
        out.append(node)
    if text := "".join(run):
        out.append(text)
    return tuple(out)


def _as_text(frame: _Frame, into: _Frame, closed: bool) -> None:
    """Splice a brace pair that is not a group into its parent as text (its groups stay)."""
    into.current.append("{")
    for index, option in enumerate(frame.options):
        if index:
            into.current.append("|")
        into.current.extend(option)
    if closed:
        into.current.append("}")


def _close(frame: _Frame, parent: _Frame) -> None:
    frame.options.append(frame.current)
    if len(frame.options) > 1 and not frame.is_text and frame.depth < MAX_SPIN_DEPTH:
        parent.current.append(Group([_compact(option) for option in frame.options]))
        parent.depth = max(parent.depth, frame.depth + 1)
    else:
        _as_text(frame, parent, closed=True)
        parent.is_text = True


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    nodes: tuple[Node, ...]

    @property
    def spins(self) -> bool:
        return any(isinstance(node, Group) for node in self.nodes)

    def spin(self, rand: Rand, budget: Budget) -> str:
        """One spun text: one option of each group, picked with `rand`."""
        if not self.spins:
            return self.text
        out: list[str] = []
        _walk(self.nodes, out, rand, budget)
        budget.spend(chars=sum(map(len, out)))
        return "".join(out)


def _walk(nodes: tuple[Node, ...], out: list[str], rand: Rand, budget: Budget) -> None:
    budget.spend(steps=len(nodes))
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        else:
            _walk(node[min(int(rand() * len(node)), len(node) - 1)], out, rand, budget)


def parse(text: str, budget: Budget | None = None) -> Template:
    """The spintax tree of `text`; one step per brace or pipe, paid before parsing."""
    budget = budget if budget is not None else Budget()
    budget.spend(steps=text.count("{") + text.count("|") + text.count("}"))
    pieces = _SPECIAL_SPLIT_RE.split(text)  # text, special, text, special, …, text
    stack = [_Frame()]
    if pieces[0]:
        stack[0].current.append(pieces[0])
    for index in range(1, len(pieces), 2):
        char, top = pieces[index], stack[-1]
        if char == "{":
            stack.append(_Frame())
        elif len(stack) == 1:  # a `|` or `}` outside any group is text
            top.current.append(char)
        elif char == "|":
            top.options.append(top.current)
            top.current = []
        else:
            stack.pop()
            _close(top, stack[-1])
        if after := pieces[index + 1]:
            stack[-1].current.append(after)
    while len(stack) > 1:  # braces never closed are text
        frame = stack.pop()
        frame.options.append(frame.current)
        _as_text(frame, stack[-1], closed=False)
    return Template(text, _compact(stack[0].current))


def fill(
    text: str,
    params: Mapping[str, object],
    *,
    limit: int | None = None,
    budget: Budget | None = None,
    paid: bool = False,
) -> str:
    """Replace `%key%` with `params[key]`; unknown keys stay as written. Raises TooLong as soon
    as the output would pass `limit` characters, before building it. `paid`: `text` was built,
    and its characters paid for, by this rendering's spin, so only the values are new."""
    budget = budget if budget is not None else Budget()
    pieces: list[str] = []
    size = last = 0
    for match in PLACEHOLDER_RE.finditer(text):
        budget.spend(steps=1)
        key = match.group(1)
        if key not in params:
            continue
        value = str(params[key])
        literal = match.start() - last
        if limit is not None and size + literal + len(value) > limit:
            raise TooLong(limit)
        budget.spend(chars=len(value) if paid else literal + len(value))
        pieces += (text[last : match.start()], value)
        size, last = size + literal + len(value), match.end()
    if not pieces:
        if limit is not None and len(text) > limit:
            raise TooLong(limit)
        return text
    if limit is not None and size + len(text) - last > limit:
        raise TooLong(limit)
    budget.spend(chars=0 if paid else len(text) - last)
    pieces.append(text[last:])
    return "".join(pieces)


def spin(text: str, rand: Rand, *, budget: Budget | None = None) -> str:
    """Replace each `{a|b|c}` by one option chosen with `rand`, innermost groups first."""
    budget = budget if budget is not None else Budget()
    return parse(text, budget).spin(rand, budget)


def render(
    template: str | Template,
    params: Mapping[str, object],
    rand: Rand,
    *,
    limit: int | None = None,
    budget: Budget | None = None,
) -> str:
    """Spin, then fill; every character built is paid for once, from `budget`."""
    budget = budget if budget is not None else Budget()
    parsed = template if isinstance(template, Template) else parse(template, budget)
    spun = parsed.spin(rand, budget)
    return fill(spun, params, limit=limit, budget=budget, paid=spun is not parsed.text)


class Renderer:
    """Renders one request's messages: all on one Budget, each distinct template parsed once
    (a bulk's top-level text is rendered for every recipient)."""

    def __init__(self, rand: Rand = random.random, budget: Budget | None = None) -> None:
        self.rand = rand
        self.budget = budget if budget is not None else Budget()
        self._parsed: dict[str, Template] = {}

    def render(self, template: str, params: Mapping[str, object], *, limit: int, shared: bool) -> str:
        """`shared`: the template is used by many messages, so its tree is kept for the others."""
        parsed = self._parsed.get(template) if shared else None
        if parsed is None:
            parsed = parse(template, self.budget)
            if shared:
                self._parsed[template] = parsed
        return render(parsed, params, self.rand, limit=limit, budget=self.budget)

    def fill(self, text: str, params: Mapping[str, object], *, limit: int) -> str:
        return fill(text, params, limit=limit, budget=self.budget)
