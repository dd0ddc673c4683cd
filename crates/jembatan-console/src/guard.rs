//! What keeps other web pages out: the console acts with the auditor's certificate, and every
//! look it takes is a logged read of the log, so a page from elsewhere must not be able to
//! drive it. Requests must name the console's own address as their Host (DNS rebinding); a
//! request a browser marks as coming from another site (`Sec-Fetch-Site`), even an image or a
//! link, and a form posted from another origin, are refused (cross-site request forgery); and
//! every answer forbids framing, scripts and caching of what it shows.
//!
//! And whoever else can reach the port (another user of the machine) must not: the console
//! makes a random token at start and prints the address that carries it; a request must carry
//! it, in the `token` query parameter (the printed address) or in the cookie the first such
//! request sets (HttpOnly, SameSite=Strict), else it gets 401.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The Host values the console answers to, and the token a request must carry.
#[derive(Debug)]
pub(crate) struct Allowed {
    hosts: Vec<String>,
    token: String,
    /// The cookie that carries the token once the printed address was opened, named after the
    /// port: browsers keep cookies per host, not per port, and two consoles may run side by side.
    cookie: String,
}

/// How a request carried the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    /// In the query: the cookie is set on the answer.
    Query,
    /// In the cookie.
    Cookie,
    /// Not at all, or a wrong one.
    No,
}

impl Allowed {
    /// The console's own address (and `localhost` for a loopback one), with its `token`.
    pub(crate) fn new(local: SocketAddr, token: String) -> Self {
        let mut hosts = vec![local.to_string()];
        if local.ip().is_loopback() {
            hosts.push(format!("localhost:{}", local.port()));
        }
        Self {
            hosts,
            token,
            cookie: format!("jembatan_console_{}", local.port()),
        }
    }

    fn carried(&self, request: &Request) -> Carried {
        // Every byte compared, whatever differs first.
        let same = |given: &str| {
            given.len() == self.token.len()
                && given
                    .bytes()
                    .zip(self.token.bytes())
                    .fold(0u8, |differ, (a, b)| differ | (a ^ b))
                    == 0
        };
        let in_query = request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.strip_prefix("token="))
            .any(same);
        if in_query {
            return Carried::Query;
        }
        let in_cookie = request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix(&self.cookie)?.strip_prefix('='))
            .any(same);
        if in_cookie {
            Carried::Cookie
        } else {
            Carried::No
        }
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|host| self.hosts.iter().any(|allowed| allowed == host))
    }

    /// A request the browser says was not started by another site: typed, bookmarked or from
    /// the console's own pages (no header: not a browser that sends it).
    fn site_allowed(headers: &HeaderMap) -> bool {
        match headers.get("sec-fetch-site").map(HeaderValue::to_str) {
            None => true,
            Some(Ok(site)) => matches!(site, "same-origin" | "none"),
            Some(Err(_)) => false,
        }
    }

    /// A request without Origin (not from a browser's cross-origin form) or from the console.
    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN).map(HeaderValue::to_str) {
            None => true,
            Some(Ok(origin)) => self
                .hosts
                .iter()
                .any(|allowed| origin == format!("http://{allowed}")),
            Some(Err(_)) => false,
        }
    }
}

/// Refuses foreign hosts and cross-origin posts; adds the security headers to every answer,
/// refusals included.
pub(crate) async fn check(
    State(allowed): State<Arc<Allowed>>,
    request: Request,
    next: Next,
) -> Response {
    let carried = allowed.carried(&request);
    let mut response = if !allowed.host_allowed(request.headers()) {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "this console answers only at its own address",
        )
            .into_response()
    } else if !Allowed::site_allowed(request.headers())
        || (request.method() != Method::GET && !allowed.origin_allowed(request.headers()))
    {
        (
            StatusCode::FORBIDDEN,
            "a request from another site may not use this console",
        )
            .into_response()
    } else if carried == Carried::No {
        (
            StatusCode::UNAUTHORIZED,
            "open the address `jembatan console` printed: it carries the token that lets you in",
        )
            .into_response()
    } else {
        next.run(request).await
    };
    if carried == Carried::Query
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            allowed.cookie, allowed.token
        ))
    {
        // Appended: the page may set a cookie of its own (the language).
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Not no-referrer: with it, Chromium sends `Origin: null` on the console's own forms.
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn only_the_own_address_and_origin() {
        let allowed = Allowed::new("127.0.0.1:7480".parse().expect("addr"), "t0k".into());
        assert!(allowed.host_allowed(&headers(&[(header::HOST, "127.0.0.1:7480")])));
        assert!(allowed.host_allowed(&headers(&[(header::HOST, "localhost:7480")])));
        assert!(!allowed.host_allowed(&headers(&[(header::HOST, "evil.example:7480")])));
        assert!(!allowed.host_allowed(&HeaderMap::new()));
        assert!(allowed.origin_allowed(&HeaderMap::new()));
        assert!(allowed.origin_allowed(&headers(&[(header::ORIGIN, "http://127.0.0.1:7480")])));
        assert!(!allowed.origin_allowed(&headers(&[(header::ORIGIN, "https://evil.example")])));
        assert!(!allowed.origin_allowed(&headers(&[(header::ORIGIN, "null")])));
        let site =
            |value: &str| headers(&[(header::HeaderName::from_static("sec-fetch-site"), value)]);
        assert!(Allowed::site_allowed(&site("same-origin")));
        assert!(Allowed::site_allowed(&site("none")));
        assert!(Allowed::site_allowed(&HeaderMap::new()));
        assert!(!Allowed::site_allowed(&site("cross-site")));
        assert!(!Allowed::site_allowed(&site("same-site")));
        let request = |uri: &str, cookie: Option<&str>| {
            let mut request = Request::builder().uri(uri);
            if let Some(cookie) = cookie {
                request = request.header(header::COOKIE, cookie);
            }
            request.body(axum::body::Body::empty()).expect("request")
        };
        assert_eq!(
            allowed.carried(&request("/?token=t0k", None)),
            Carried::Query
        );
        assert_eq!(
            allowed.carried(&request("/entries?a=1&token=t0k", None)),
            Carried::Query
        );
        assert_eq!(
            allowed.carried(&request("/", Some("lang=id; jembatan_console_7480=t0k"))),
            Carried::Cookie
        );
        assert_eq!(allowed.carried(&request("/?token=t0", None)), Carried::No);
        assert_eq!(
            allowed.carried(&request("/", Some("jembatan_console_7480=x"))),
            Carried::No
        );
        assert_eq!(
            allowed.carried(&request("/", Some("jembatan_console_7481=t0k"))),
            Carried::No,
            "another console's cookie"
        );
        assert_eq!(allowed.carried(&request("/", None)), Carried::No);
    }
}
