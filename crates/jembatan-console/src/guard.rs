//! What keeps other web pages out: the console acts with the auditor's certificate, and every
//! look it takes is a logged read of the log, so a page from elsewhere must not be able to
//! drive it. Requests must name the console's own address as their Host (DNS rebinding); a
//! request a browser marks as coming from another site (`Sec-Fetch-Site`), even an image or a
//! link, and a form posted from another origin, are refused (cross-site request forgery); and
//! every answer forbids framing, scripts and caching of what it shows.
//!
//! And whoever else can reach the port (another user of the machine) must not: the console
//! makes a random token at start and serves every page under `/<token>/`, the address it
//! prints; any other path gets 401. The secret is in the path, not in a cookie, because browsers
//! send a cookie to every port of a host: another server on 127.0.0.1 that the auditor opens
//! would receive it. Pages link relatively and the Referrer-Policy keeps the path to the
//! console itself.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The Host values the console answers to, and the path every page lives under.
#[derive(Debug)]
pub(crate) struct Allowed {
    hosts: Vec<String>,
    /// `/<token>/`.
    base: String,
}

impl Allowed {
    /// The console's own address (and `localhost` for a loopback one), with its `token`.
    pub(crate) fn new(local: SocketAddr, token: &str) -> Self {
        let mut hosts = vec![local.to_string()];
        if local.ip().is_loopback() {
            hosts.push(format!("localhost:{}", local.port()));
        }
        Self {
            hosts,
            base: format!("/{token}/"),
        }
    }

    /// Whether `path` is under the base, compared byte by byte whatever differs first.
    fn carries_token(&self, path: &str) -> bool {
        let Some(given) = path.get(..self.base.len()) else {
            return false;
        };
        given
            .bytes()
            .zip(self.base.bytes())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
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
    let carried = allowed.carries_token(request.uri().path());
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
    } else if !carried {
        (
            StatusCode::UNAUTHORIZED,
            "open the address `jembatan console` printed: it carries the token that lets you in",
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'self'",
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
        let allowed = Allowed::new("127.0.0.1:7480".parse().expect("addr"), "t0k");
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
        assert!(allowed.carries_token("/t0k/"));
        assert!(allowed.carries_token("/t0k/entries?a=1"));
        assert!(!allowed.carries_token("/t0k"));
        assert!(!allowed.carries_token("/t0x/entries"));
        assert!(!allowed.carries_token("/"));
        assert!(!allowed.carries_token("/entries?token=t0k"));
    }
}
