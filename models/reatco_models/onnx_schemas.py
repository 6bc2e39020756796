"""Schemas for the non-standard operators the export emits (onnxscript needs one to emit an op)."""

from __future__ import annotations

import onnx


def register_schema(domain: str, name: str, inputs, outputs, type_constraints, attributes=()) -> None:
    """Registers `domain`.`name`, version 1, once. Inputs and outputs are (name, type) pairs, type
    constraints (type, allowed types, description), attributes (name, AttrType name, description)."""
    if onnx.defs.has(name, domain):
        return
    schema = onnx.defs.OpSchema
    onnx.defs.register_schema(
        schema(
            name,
            domain,
            1,
            inputs=[schema.FormalParameter(n, t) for n, t in inputs],
            outputs=[schema.FormalParameter(n, t) for n, t in outputs],
            type_constraints=type_constraints,
            attributes=[schema.Attribute(n, getattr(schema.AttrType, kind), doc) for n, kind, doc in attributes],
        )
    )
