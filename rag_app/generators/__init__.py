"""Generators: text from chat messages, behind the ``rag_app.types.Generator`` protocol.

Backends live in their own modules and import their SDKs lazily; build one with
``rag_app.generators.registry.make_generator(spec)``.
"""
