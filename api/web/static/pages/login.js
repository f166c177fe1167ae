// Log in with the API's username and password (JWT pair kept in localStorage).
import { login } from "../api.js";
import { h } from "../ui.js";

export function render(view) {
  const error = h("p", { class: "error-text", role: "alert" });
  const user = h("input", { id: "username", name: "username", autocomplete: "username", value: "admin", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", {
    class: "card login",
    onsubmit: async (e) => {
      e.preventDefault();
      submit.disabled = true;
      error.textContent = "";
      try {
        await login(user.value, pass.value);
        location.hash = "#/";
      } catch (err) {
        error.textContent = err.message;
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("h1", {}, "srec"),
  h("label", { for: "username" }, "Username"), user,
  h("label", { for: "password" }, "Password"), pass,
  h("p", { class: "muted small" }, "The generated admin password is in data/admin-password."),
  error,
  submit);
  view.append(form);
  pass.focus();
}
