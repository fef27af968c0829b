//! Optional authentication and CSRF protection.
//!
//! **Authentication** (off unless the server gets `--auth-token` / `MODELOPS_AUTH_TOKEN`): [`require_auth`] guards
//! every UI page and every API call that changes something (any method but GET/HEAD, except the read-only
//! `…/search` RPCs). A request is authenticated by `Authorization: Bearer TOKEN`, by basic auth whose password is
//! the token (any user name: what MLflow clients send with `MLFLOW_TRACKING_USERNAME`/`PASSWORD`), or by the
//! session cookie the login form sets. The cookie holds a SHA-256 of the token, never the token itself.
//!
//! **CSRF** ([`csrf_layer`]): a double-submit token. Every UI response makes sure the browser holds a random
//! `modelops_csrf` cookie (HttpOnly, SameSite=Strict) and pages put the same value in a hidden field of each POST
//! form; a POST whose field does not match the cookie is refused with 403. Another site can neither read the
//! cookie nor make the browser send it, so it cannot forge the field.
//!
//! Written here rather than with a session crate: the whole mechanism is two cookies and one comparison.

use crate::ui::UiOptions;
use crate::ui::layout::{self, Nav};
use crate::ui::{UiError, UiResult};
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Name of the CSRF cookie (and of the hidden form field, `csrf_token`).
pub const CSRF_COOKIE: &str = "modelops_csrf";
/// Name of the login session cookie.
pub const SESSION_COOKIE: &str = "modelops_session";

/// The shared secret that unlocks the UI and the API's write endpoints.
#[derive(Clone)]
pub struct AuthToken {
    token: Arc<str>,
    session: Arc<str>,
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// Wraps a token.
    ///
    /// # Errors
    /// A message when the token is shorter than 8 characters (too easy to guess) or holds whitespace.
    pub fn new(token: &str) -> Result<Self, String> {
        if token.chars().count() < 8 || token.chars().any(char::is_whitespace) {
            return Err(
                "the auth token must be at least 8 characters without spaces (e.g. `openssl rand -hex 16`)".into(),
            );
        }
        let session = hex::encode(Sha256::digest(format!("modelops-ui-session:{token}")));
        Ok(Self {
            token: token.into(),
            session: session.into(),
        })
    }

    /// Whether `presented` is the token (compared in constant time).
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.token.as_bytes(), presented.as_bytes())
    }

    fn session_matches(&self, cookie: &str) -> bool {
        constant_time_eq(self.session.as_bytes(), cookie.as_bytes())
    }

    /// Whether the request's headers carry the token (Bearer, basic auth password or session cookie).
    pub fn authenticates(&self, headers: &HeaderMap) -> bool {
        if let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            if let Some(bearer) = value.strip_prefix("Bearer ")
                && self.matches(bearer.trim())
            {
                return true;
            }
            if let Some(basic) = value.strip_prefix("Basic ") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(basic.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                if let Some((_, password)) = decoded.as_deref().and_then(|d| d.split_once(':'))
                    && self.matches(password)
                {
                    return true;
                }
            }
        }
        cookie(headers, SESSION_COOKIE).is_some_and(|c| self.session_matches(&c))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

fn is_public(path: &str) -> bool {
    path == "/login"
        || path.starts_with("/ui/assets/")
        || path == "/health"
        || path == "/version"
        || path == "/api/3.0/mlflow/server-info"
}

fn is_api(path: &str) -> bool {
    ["/api/", "/ajax-api/"].iter().any(|p| path.starts_with(p))
}

/// Middleware (state: the [`UiOptions`]): when a token is configured, refuses unauthenticated UI pages (401 with the login form) and
/// unauthenticated API writes (401 JSON with `WWW-Authenticate`).
pub async fn require_auth(State(ui): State<UiOptions>, request: Request, next: Next) -> Response {
    let Some(auth) = &ui.auth else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if is_public(path) || auth.authenticates(request.headers()) {
        return next.run(request).await;
    }
    if is_api(path) {
        let is_read =
            matches!(*request.method(), Method::GET | Method::HEAD) || path.ends_with("/search");
        if is_read {
            return next.run(request).await;
        }
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "error_code": "UNAUTHENTICATED",
                "message": "This server requires a token for writes: send 'Authorization: Bearer TOKEN' \
                            (MLFLOW_TRACKING_TOKEN) or basic auth with the token as password",
            })),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"modelops\""),
        );
        return response;
    }
    let next_path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    (StatusCode::UNAUTHORIZED, login_form(&next_path, None)).into_response()
}

/// The CSRF token of the current request, put in the request's extensions by [`csrf_layer`].
#[derive(Clone, Debug)]
pub struct CsrfToken {
    /// The value to put in forms.
    pub value: String,
    /// Whether the browser already sent it as a cookie (a POST is only valid then).
    pub from_cookie: bool,
}

impl CsrfToken {
    /// Checks a submitted form field against the cookie.
    ///
    /// # Errors
    /// [`UiError::forbidden`] when the cookie is missing or the field differs.
    pub fn verify(&self, submitted: Option<&str>) -> Result<(), UiError> {
        match submitted {
            Some(field)
                if self.from_cookie
                    && constant_time_eq(field.as_bytes(), self.value.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(UiError::forbidden(
                "The form's security token is missing or out of date. Reload the page and submit again.",
            )),
        }
    }
}

fn is_valid_csrf(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Middleware on UI routes: makes sure a CSRF cookie exists and hands its value to handlers as [`CsrfToken`].
pub async fn csrf_layer(mut request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE).filter(|v| is_valid_csrf(v));
    let token = match &existing {
        Some(value) => CsrfToken {
            value: value.clone(),
            from_cookie: true,
        },
        None => CsrfToken {
            value: uuid::Uuid::new_v4().simple().to_string(),
            from_cookie: false,
        },
    };
    let new_cookie = (!token.from_cookie).then(|| token.value.clone());
    request.extensions_mut().insert(token);
    let mut response = next.run(request).await;
    if let Some(value) = new_cookie
        && let Ok(header_value) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
        ))
    {
        response
            .headers_mut()
            .append(header::SET_COOKIE, header_value);
    }
    response
}

/// The CSRF token for the layout's logout button: only when login is on.
pub fn logout_token<'a>(ui: &UiOptions, csrf: &'a CsrfToken) -> Option<&'a str> {
    ui.auth.as_ref().map(|_| csrf.value.as_str())
}

fn safe_next(next: &str) -> &str {
    // Only local paths: `//host` or `/\host` would leave the site.
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

fn login_form(next: &str, error: Option<&str>) -> Markup {
    layout::page(
        "Log in",
        Nav::None,
        None,
        html! {
            div.login-card {
                h1 { "Log in" }
                p.muted { "This server requires its access token (set with " code { "--auth-token" } " or "
                    code { "MODELOPS_AUTH_TOKEN" } ")." }
                @if let Some(message) = error { p.error-box { (message) } }
                form method="post" action="/login" {
                    input type="hidden" name="next" value=(safe_next(next));
                    label for="token" { "Access token" }
                    input #token type="password" name="token" autocomplete="current-password" required autofocus;
                    button.primary type="submit" { "Log in" }
                }
            }
        },
    )
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: the login form (or a note when login is off).
pub async fn login_page(
    Extension(ui): Extension<UiOptions>,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> Response {
    let next = query.next.unwrap_or_else(|| "/".into());
    if ui.auth.is_none() {
        return Redirect::to(safe_next(&next)).into_response();
    }
    login_form(&next, None).into_response()
}

/// Fields of the login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `POST /login`: checks the token, sets the session cookie and goes back to where the user was.
///
/// No CSRF check here: the form is reachable before the browser has a session, and logging someone into their
/// own server grants an attacker nothing.
pub async fn login(Extension(ui): Extension<UiOptions>, Form(form): Form<LoginForm>) -> Response {
    let next = form.next.unwrap_or_else(|| "/".into());
    let Some(auth) = &ui.auth else {
        return Redirect::to(safe_next(&next)).into_response();
    };
    if !auth.matches(form.token.trim()) {
        tracing::warn!("UI login with a wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            login_form(&next, Some("That token is not the server's access token.")),
        )
            .into_response();
    }
    let mut response = Redirect::to(safe_next(&next)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        auth.session
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Fields of a form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf_token: Option<String>,
}

/// `POST /logout`: clears the session cookie.
pub async fn logout(Extension(csrf): Extension<CsrfToken>, Form(form): Form<CsrfOnly>) -> UiResult {
    csrf.verify(form.csrf_token.as_deref())?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("modelops_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_are_refused() {
        assert!(AuthToken::new("short").is_err());
        assert!(AuthToken::new("has space inside").is_err());
        assert!(AuthToken::new("s3cret-token").is_ok());
    }

    #[test]
    fn bearer_basic_and_cookie_authenticate() {
        let auth = AuthToken::new("s3cret-token").unwrap();
        let mut headers = HeaderMap::new();
        assert!(!auth.authenticates(&headers));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret-token"),
        );
        assert!(auth.authenticates(&headers));
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:s3cret-token");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        assert!(auth.authenticates(&headers));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong-token!"),
        );
        assert!(!auth.authenticates(&headers));
        headers.remove(header::AUTHORIZATION);
        let cookie = format!("other=1; {SESSION_COOKIE}={}", auth.session);
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert!(auth.authenticates(&headers));
    }

    #[test]
    fn open_redirects_are_refused() {
        assert_eq!(safe_next("/runs/abc"), "/runs/abc");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
    }

    #[test]
    fn csrf_needs_the_cookie_and_the_same_field() {
        let token = CsrfToken {
            value: "a".repeat(32),
            from_cookie: true,
        };
        assert!(token.verify(Some(&"a".repeat(32))).is_ok());
        assert!(token.verify(Some("b")).is_err());
        assert!(token.verify(None).is_err());
        let fresh = CsrfToken {
            value: "a".repeat(32),
            from_cookie: false,
        };
        assert!(fresh.verify(Some(&"a".repeat(32))).is_err());
    }
}
