"""Renders chat templates with Python's jinja2, set up as Hugging Face
transformers' apply_chat_template sets it up (the reference every GGUF chat
template is written for): a sandboxed environment with trim_blocks and
lstrip_blocks, the loopcontrols extension, raise_exception and strftime_now,
and a tojson that keeps keys in order and non-ASCII as is.

Reads one JSON object from stdin:
    {"cases": [{"template": "...", "context": {...}}, ...]}
and writes one JSON list to stdout, per case {"text": "..."} or
{"error": "..."}. strata's engine tests compare their renderings with it.
"""

import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    req = json.load(sys.stdin)
    env = environment()
    out = []
    for case in req["cases"]:
        try:
            out.append({"text": env.from_string(case["template"]).render(**case["context"])})
        except TemplateError as e:
            out.append({"error": str(e)})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
