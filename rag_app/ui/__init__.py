"""The Streamlit page's logic that is not Streamlit calls (``streamlit_app.py`` renders it).

- ``config``: where the page keeps its files (users, feedback, uploads, reports) and its limits;
- ``users``: the local users file (argon2 password hashes) and sign-in;
- ``feedback``: the JSONL feedback store (``ragqa finetune data`` reads it);
- ``chat``: one conversation: questions checked, queued while an answer is written, answered
  in a worker thread so a rerun of the page never interrupts or interleaves an answer;
- ``engines``: one shared ``RAG`` per configuration, over one opened index;
- ``sources``: source cards: which sentences an answer cites, ``[n]`` links, highlighting;
- ``pdf_pages``: a cited PDF page rendered to PNG with the passage boxed (pypdfium2);
- ``documents``: the documents an index holds, who may see each one, where its file lies;
- ``uploads``: checking and saving uploaded files before they are ingested;
- ``refusals``: a refusal's reason in words;
- ``suggestions``: suggested questions, from the ingested folders' ``qa.jsonl``, of documents the asker may see;
- ``reports``: evaluation reports found on disk;
- ``settings``: the page's answer settings and filters as typed values;
- ``views``: the Streamlit rendering (imports streamlit; nothing else here does);
- ``cli``: ``ragqa users ...`` and ``ragqa ui``.

Importing this package loads nothing heavy; ``rag_app`` does not import it.
"""
