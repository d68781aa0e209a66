"""``{% per_language %}…{% endper_language %}``: a part of the layout rendered once per
language and process, then given as it is.

The site's header brand, skip links, footer and DSFR's theme dialog are the same text on
every page of a language, yet a page rendered their ~40 ``{% translate %}``, ``{% url %}``
and ``{% static %}`` tags each time (≈1 ms of CPU, a request's floor). What the block holds
can therefore depend on nothing but the active language: the template is refused at
load (``TemplateSyntaxError``) if it holds a variable, a condition, a loop or a tag given
anything but literals. Loaded as a template library in ``TEMPLATES`` (config/settings.py).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, Node, NodeList, Parser, TextNode, Token, Variable
from django.template.defaulttags import CommentNode, LoadNode, URLNode
from django.template.library import InclusionNode
from django.templatetags.i18n import TranslateNode
from django.templatetags.static import StaticNode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

#: Off, every block is rendered on each page as if the tag were not there (the benchmarks' "before").
ENABLED = True


def _literal(expression: Any) -> bool:
    if not isinstance(expression, FilterExpression) or expression.filters:
        return False
    var = expression.var
    return not isinstance(var, Variable) or var.lookups is None


def _constant(node: Node) -> bool:
    """Whether ``node`` renders the same for every request of a language."""
    if isinstance(node, TextNode | CommentNode | LoadNode):
        return True
    if isinstance(node, TranslateNode):
        return node.asvar is None and node.message_context is None and _literal(node.filter_expression)
    if isinstance(node, URLNode):
        return (
            node.asvar is None
            and _literal(node.view_name)
            and all(_literal(a) for a in node.args)
            and all(_literal(v) for v in node.kwargs.values())
        )
    if isinstance(node, StaticNode):
        return node.varname is None and _literal(node.path)
    if isinstance(node, InclusionNode):
        return not node.args and not node.kwargs and not node.takes_context
    return False


class PerLanguageNode(Node):
    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist
        self.rendered: dict[str, SafeString] = {}

    def render(self, context: template.Context) -> str:
        if not ENABLED:
            return str(self.nodelist.render(context))
        language = get_language() or ""
        html = self.rendered.get(language)
        if html is None:
            html = self.rendered[language] = mark_safe(self.nodelist.render(context))  # noqa: S308 - rendered by the template engine
        return html


@register.tag
def per_language(parser: Parser, token: Token) -> PerLanguageNode:
    nodelist = parser.parse(("endper_language",))
    parser.delete_first_token()
    for node in nodelist:
        if not _constant(node):
            raise template.TemplateSyntaxError(
                f"{{% per_language %}} holds only text, literal {{% translate %}}, {{% url %}}, {{% static %}} "
                f"and argument-less inclusion tags, not {node!r}"
            )
    return PerLanguageNode(nodelist)
