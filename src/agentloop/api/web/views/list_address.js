// Where "All runs" leads: the runs list as it was last shown (filters and page), kept for
// the tab's session so that the run view's way back, even after a reload, returns there.

const KEY = "agentloop.runsList";

/** Remember the list's fragment query ("status=FAILED&page=2", or "" for the plain list). */
export function rememberListQuery(query) {
  try {
    sessionStorage.setItem(KEY, query);
  } catch {
    // Storage refused (private mode, quota): the way back is the plain list.
  }
}

/** The fragment of the runs list last shown: "#/" or "#/?<query>". */
export function listHref() {
  let query = "";
  try {
    query = sessionStorage.getItem(KEY) || "";
  } catch {
    query = "";
  }
  return query ? `#/?${query}` : "#/";
}
