// The token prompt: shown when loopd answers 401. The token is checked with one request
// (Authorization header), kept in sessionStorage for this tab, and never put in a URL.

import { api, ApiError, AuthRequired, setToken } from "../api.js";
import { h, replace } from "../dom.js";

/** Ask for the token in `container`; resolves once loopd accepts one. */
export function askForToken(container, message = "") {
  return new Promise((resolve) => {
    const input = h("input", {
      id: "token-input",
      name: "token",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-describedby": "token-help token-error",
    });
    const error = h("p", { id: "token-error", class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "primary" }, "Unlock");
    const form = h(
      "form",
      // POST, so that even without this script the token could not land in a URL.
      { class: "token-form", method: "post", action: "#", novalidate: true },
      h("label", { for: "token-input" }, "Access token"),
      input,
      h(
        "p",
        { id: "token-help", class: "hint" },
        "The value of LOOPD_AUTH_TOKEN. It is kept for this tab only.",
      ),
      error,
      submit,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) {
        error.textContent = "Enter the token.";
        input.focus();
        return;
      }
      submit.disabled = true;
      error.textContent = "";
      try {
        await api.checkToken(token);
        setToken(token);
        input.value = "";
        resolve();
      } catch (failure) {
        error.textContent =
          failure instanceof AuthRequired
            ? "loopd refused that token."
            : `Could not check the token: ${failure instanceof ApiError ? failure.message : failure}`;
        input.select();
        input.focus();
      } finally {
        submit.disabled = false;
      }
    });
    replace(
      container,
      h(
        "section",
        { class: "card token-card", "aria-labelledby": "token-title" },
        h("h1", { id: "token-title" }, "This loopd needs a token"),
        message ? h("p", { class: "notice" }, message) : null,
        form,
      ),
    );
    input.focus();
  });
}
