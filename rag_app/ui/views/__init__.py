"""The page's Streamlit rendering, one module per page part; each imports streamlit.

``signin`` (who is asking), ``sidebar`` (settings and filters), ``ask`` (the chat), ``cards``
(source cards), ``search``, and the admin pages ``documents``, ``feedback_view`` and ``reports``.
"""
