"""ragqa's web page: ask your documents in Japanese or English, read the cited pages.

    ragqa ui                      # or: streamlit run streamlit_app.py

The index, users file and feedback store come from ragqa.toml and the RAGQA_* variables
(rag_app/ui/config.py lists them). The model and index load once per process and are shared by
every browser session; the page logic lives in rag_app/ui/, the rendering in rag_app/ui/views/.
"""

from __future__ import annotations

import streamlit as st

from rag_app.ui.resources import PageResources, env_key
from rag_app.ui.users import User
from rag_app.ui.views import ask, documents, feedback_view, reports, search, sidebar, signin
from rag_app.ui.views.context import PageContext

PAGES = {"Ask": ask.render, "Search": search.render, "Documents": documents.render,
         "Feedback": feedback_view.render, "Reports": reports.render}
ADMIN_PAGES = {"Documents", "Feedback", "Reports"}


@st.cache_resource(show_spinner="Opening the index…")
def resources(key: tuple[tuple[str, str], ...]) -> PageResources:
    """One per process and environment: every session shares the index, models and stores."""
    return PageResources.from_env()


def main() -> None:
    st.set_page_config(page_title="ragqa", page_icon="📚", layout="wide")
    st.markdown("<style>.ragqa-passage mark{background:#ffe27a;padding:0 .1em}"
                ".ragqa-passage{line-height:1.6}</style>", unsafe_allow_html=True)
    try:
        res = resources(env_key())
    except (ValueError, OSError) as e:
        st.error(f"The page could not start: {e}")
        st.stop()
    user: User | None = signin.current_user(res)
    st.sidebar.title("ragqa")
    if user is None:
        signin.sign_in_form(res)
        return
    signin.user_box(user)
    if not user.signed_in:
        signin.public_notice(res)
    page = sidebar.page_choice(user)
    ctx = PageContext(res=res, user=user, settings=sidebar.settings(res), filters=sidebar.filters(res, user))
    if page in ADMIN_PAGES and not user.admin:  # a stale page choice after signing out
        page = "Ask"
    PAGES[page](ctx)


main()
