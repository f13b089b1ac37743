"""Reading the report's HTML in tests: a strict tree builder (every element closed, in order) and
small queries on it. Used by the renderer's and the command's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "link", "br", "img", "input", "hr", "col", "area", "base", "wbr", "source", "track"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)

    def find(self, tag: str, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.walk()
            if n.tag == tag and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


class Tree(HTMLParser):
    """A strict tree builder: every non-void element must be closed, in order (a page that only
    renders because browsers forgive would fail here)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        open_tag = self.stack.pop().tag
        assert open_tag == tag, f"</{tag}> closes <{open_tag}>"

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], f"unclosed elements: {[n.tag for n in tree.stack[1:]]}"
    return tree


def region_sections(tree: Tree) -> dict[str, Node]:
    """region code -> its <section>, in page order."""
    return {s.attrs["data-region"]: s for s in tree.root.find("section", **{"class": "region"})}


def figure_cells(section: Node) -> dict[str, list[str]]:
    """figure key -> the texts of its cells in the latest-figures table (latest, then baseline)."""
    (table,) = section.find("table", data_table="figures")
    return {
        tr.attrs["data-figure"]: [td.all_text().strip() for td in tr.find("td")]
        for tr in table.find("tr")
        if "data-figure" in tr.attrs
    }


def target_statuses(section: Node) -> dict[str, str]:
    """target name -> "met" | "not-met" | "unknown" in the region's targets table."""
    (table,) = section.find("table", data_table="targets")
    return {
        tr.attrs["data-target"]: tr.attrs["data-met"] for tr in table.find("tr") if "data-target" in tr.attrs
    }


def shown_number(text: str) -> float | None:
    """A cell's number as the page prints it (thousands separated by spaces); None for — or suppressed."""
    if text in ("—", "suppressed"):
        return None
    return float(text.replace(" ", ""))
