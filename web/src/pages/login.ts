// The sign-in page: a keypair form, and a button for the OpenID provider
// when the manager has one configured.
import { api, ApiError, setCurrentUser, type AuthConfig, type Me } from "../api";
import { errorBox, field, h, replace, setFieldError, spinner } from "../dom";
import { navigate, type PageContext } from "../router";

// safeNext keeps the post-login jump on this site (a local path).
function safeNext(q: URLSearchParams): string {
  const n = q.get("next") || "";
  return n.startsWith("/") && !n.startsWith("//") && !n.startsWith("/\\") && n !== "/login" ? n : "/app/sessions";
}

export async function loginPage({ root, query, signal }: PageContext): Promise<void> {
  const next = safeNext(query);
  const card = h("section", { class: "card login", "aria-labelledby": "login-title" });
  replace(root, h("div", { class: "login-wrap" }, card));
  replace(card, h("h1", { id: "login-title" }, "Sign in to bai"), spinner());

  let cfg: AuthConfig = { oidc: { enabled: false, name: "" } };
  let cfgErr: unknown = null;
  try {
    cfg = await api<AuthConfig>("GET", "/auth/config", undefined, { noAuthRedirect: true, signal });
  } catch (e) {
    cfgErr = e;
  }
  if (signal.aborted) return;

  const problem = query.get("error");
  const status = h("div", { id: "login-status", "aria-live": "polite" });
  if (problem) status.appendChild(errorBox(new ApiError(401, "Sign-in failed", problem)));
  if (cfgErr) status.appendChild(errorBox(cfgErr, "Could not read the sign-in options"));

  const ak = h("input", { name: "accessKey", id: "access-key", autocomplete: "username", spellcheck: "false", required: true, autofocus: true });
  const sk = h("input", { name: "secretKey", id: "secret-key", type: "password", autocomplete: "current-password", required: true });
  const akf = field("Access key", ak);
  const skf = field("Secret key", sk, "Your keypair's secret key. bai dev writes one into its credentials.json.");
  const submit = h("button", { type: "submit", class: "primary", id: "login-submit" }, "Sign in");
  const form = h("form", { class: "stack", novalidate: true }, akf.wrap, skf.wrap, submit);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const a = ak.value.trim();
    const s = sk.value;
    setFieldError(ak, akf.error, a ? "" : "Enter your access key.");
    setFieldError(sk, skf.error, s ? "" : "Enter your secret key.");
    if (!a) return ak.focus();
    if (!s) return sk.focus();
    submit.disabled = true;
    submit.textContent = "Signing in…";
    status.replaceChildren();
    try {
      const me = await api<Me>("POST", "/auth/login", { accessKey: a, secretKey: s }, { noAuthRedirect: true });
      setCurrentUser(me);
      navigate(next, true);
    } catch (e) {
      status.replaceChildren(errorBox(e, "Sign-in failed"));
      submit.disabled = false;
      submit.textContent = "Sign in";
      sk.select();
      sk.focus();
    }
  });

  const parts: HTMLElement[] = [h("h1", { id: "login-title" }, "Sign in to bai"), status];
  if (cfg.oidc?.enabled) {
    const btn = h("a", { class: "button primary oidc", id: "oidc-login", href: `/auth/oidc/login?next=${encodeURIComponent(next)}` }, `Sign in with ${cfg.oidc.name || "single sign-on"}`);
    parts.push(btn, h("p", { class: "or" }, h("span", null, "or with a keypair")));
  }
  parts.push(form);
  replace(card, ...parts);
  ak.focus();
}
