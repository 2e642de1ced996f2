"""A small HTML form reader for tests that speak HTTP to a running site (the cluster, through nginx):
find a form by its action or its button's words, keep its hidden fields, post it as a browser would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._text: list[str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action") or self.url, method=(a.get("method") or "get").lower())
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("checkbox", "radio"):
                # A box without a value sends "on", as browsers do.
                self._form.fields[a["name"]] = a.get("value", "on")
            elif kind not in ("submit", "button", "file"):
                self._form.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form.fields[a["name"]] = ""
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form.fields.pop(a["name"], None)
        elif tag == "option" and self._select:
            # The selected option, else the first (whose value may be "").
            if "selected" in a or self._select not in self._form.fields:
                self._form.fields[self._select] = a.get("value", "")
        elif tag == "button":
            self._text = []

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)
        if self._textarea and self._form is not None:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._text is not None and self._form is not None:
            self._form.buttons.append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def forms(html: str, url: str = "") -> list[Form]:
    reader = _Reader(url)
    reader.feed(html)
    return reader.forms


def find_form(html: str, *, action: str = "", button: str = "", url: str = "") -> Form | None:
    """The first form whose action contains ``action`` and with a button reading ``button``."""
    for form in forms(html, url):
        if action and action not in form.action:
            continue
        if button and button not in form.buttons:
            continue
        return form
    return None
