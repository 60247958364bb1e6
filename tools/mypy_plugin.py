"""mypy plugin: ``navarch.api.schema.model`` makes frozen attrs classes.

The object model's ``@model(kubernetes_only=...)`` records the Kubernetes-only wire
names and then applies ``attrs.frozen(kw_only=True)``. mypy's attrs support only
recognises attrs' own decorators by name, so without this plugin every model class
would look like a plain subclass of ``Model``: no ``__init__`` with its fields, and
``attrs.evolve`` / ``attrs.fields`` rejecting it. Here the decorator is handed to the
same attrs callbacks mypy uses for ``attrs.frozen``.

One difference remains: attrs' callback reads ``kw_only`` from the decorator call,
which ``model`` does not take, so mypy accepts positional constructor arguments that
the runtime class (keyword-only) refuses at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from mypy.plugin import ClassDefContext, Plugin
from mypy.plugins.attrs import attr_class_maker_callback, attr_tag_callback

MODEL_DECORATORS = frozenset({"navarch.api.schema.model"})


class NavarchPlugin(Plugin):
    def get_class_decorator_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        # first pass: tag the class as attrs, so subclasses wait for its attributes
        return attr_tag_callback if fullname in MODEL_DECORATORS else None

    def get_class_decorator_hook_2(self, fullname: str) -> Callable[[ClassDefContext], bool] | None:
        if fullname in MODEL_DECORATORS:
            return partial(
                attr_class_maker_callback, auto_attribs_default=None, frozen_default=True
            )
        return None


def plugin(version: str) -> type[Plugin]:
    return NavarchPlugin
