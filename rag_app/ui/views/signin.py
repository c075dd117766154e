"""Who is asking: sign-in against the users file, or the public user when there is none."""

from __future__ import annotations

import time

import streamlit as st

from rag_app.ui.resources import PageResources
from rag_app.ui.users import PUBLIC_USER, User

MAX_FAILURES = 5  # failed sign-ins in one session before each further try waits
FAILURE_DELAY_S = 2.0


def current_user(res: PageResources) -> User | None:
    """The signed-in user, the public user (no users file), or None (the sign-in form is shown)."""
    if not res.users.exists():
        return PUBLIC_USER
    user = st.session_state.get("user")
    return user if isinstance(user, User) else None


def public_notice(res: PageResources) -> None:
    st.info(f"No users file at `{res.config.users_file}`: you are the **public user** and see public "
            "documents only. To sign people in, add users with "
            "`ragqa users add NAME --groups hr,finance` (`--admin` for one who manages documents).")


def sign_in_form(res: PageResources) -> None:
    table = res.users.load()
    st.subheader("Sign in")
    if table.problems:
        st.warning(f"The users file `{res.config.users_file}` has lines that were skipped: "
                   + "; ".join(map(str, table.problems)) + ". The other users can sign in.")
    if not table.users:
        st.error("The users file holds no usable user. Add one with `ragqa users add NAME --groups ...`.")
    with st.form("sign-in"):
        name = st.text_input("User name", key="signin_name")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    failures = int(st.session_state.get("signin_failures", 0))
    if failures >= MAX_FAILURES:
        time.sleep(FAILURE_DELAY_S)
    user = res.users.authenticate(name.strip(), password)
    if user is None:
        st.session_state["signin_failures"] = failures + 1
        st.error("Wrong user name or password.")
        return
    st.session_state["user"] = user
    st.session_state["signin_failures"] = 0
    st.rerun()


def user_box(user: User) -> None:
    if not user.signed_in:
        st.sidebar.caption("Public user · public documents only")
        return
    groups = ", ".join(user.groups) or "no group: public documents only"
    st.sidebar.markdown(f"Signed in as **{user.name}**" + (" (admin)" if user.admin else ""))
    st.sidebar.caption(f"Groups: {groups}")
    if st.sidebar.button("Sign out", key="sign_out"):
        for k in ("user", "conversation"):
            st.session_state.pop(k, None)
        st.rerun()
