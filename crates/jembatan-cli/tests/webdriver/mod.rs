//! A small W3C WebDriver client for the browser tests: Debian's chromedriver driving a headless
//! Chromium, spoken to over plain HTTP/1.1 with JSON bodies. One browser at a time in a test
//! binary (each Chromium takes a few hundred megabytes); the session is deleted and chromedriver
//! killed when the [`Browser`] is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package chromium-driver).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key of an element reference in W3C WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long one HTTP exchange may take (a page load included).
const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// Held by the one browser running in this test binary.
static TURN: Mutex<()> = Mutex::new(());

/// Keys of the WebDriver key codes, for [`Browser::press`] and [`Browser::send_keys`].
pub(crate) mod keys {
    /// The Tab key.
    pub(crate) const TAB: &str = "\u{E004}";
    /// The Enter key.
    pub(crate) const ENTER: &str = "\u{E007}";
}

/// An element of the current page, as WebDriver names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Element(String);

/// A headless Chromium behind its own chromedriver.
pub(crate) struct Browser {
    driver: Child,
    /// `http://127.0.0.1:<port>` of chromedriver.
    base: String,
    session: String,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// Waits for this binary's other browser to be gone, starts chromedriver on a free port and
    /// opens a session of headless Chromium, English first, 1280×1000.
    pub(crate) fn start() -> Self {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            panic!(
                "{CHROMIUM} or {CHROMEDRIVER} is missing: install Debian's chromium and \
                 chromium-driver (.ci/run does)"
            );
        }
        let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port for chromedriver")
            .port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{CHROMEDRIVER}: {e}: install Debian's chromium and chromium-driver \
                     (.ci/run does)"
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = http("GET", &format!("{base}/status"), &[], None)
                .ok()
                .and_then(|answer| serde_json::from_slice::<Value>(&answer.body).ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                break;
            }
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("chromedriver on port {port} exited at start: {status}");
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("chromedriver on port {port} not ready within 20 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    "--lang=en-US",
                ],
            },
        }}});
        let answer = match command(&base, "POST", "/session", Some(&capabilities)) {
            Ok(answer) => answer,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("no Chromium session: {e}");
            }
        };
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {answer}"))
            .to_owned();
        Self {
            driver,
            base,
            session,
            _turn: turn,
        }
    }

    /// Sends a command of this session, `path` after `/session/{id}`; panics with WebDriver's
    /// error.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        command(&self.base, method, &path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// Opens `url` and waits for it to load.
    pub(crate) fn navigate(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The URL of the page shown.
    pub(crate) fn current_url(&self) -> String {
        let url = self.call("GET", "/url", None);
        url.as_str()
            .unwrap_or_else(|| panic!("a URL, not {url}"))
            .to_owned()
    }

    /// The first element matching the CSS selector; panics naming it and the page if none.
    pub(crate) fn find(&self, css: &str) -> Element {
        self.find_all(css).into_iter().next().unwrap_or_else(|| {
            panic!("no element {css:?} on {}", self.current_url());
        })
    }

    /// Every element matching the CSS selector, in document order.
    pub(crate) fn find_all(&self, css: &str) -> Vec<Element> {
        let query = json!({"using": "css selector", "value": css});
        let found = self.call("POST", "/elements", Some(&query));
        found
            .as_array()
            .unwrap_or_else(|| panic!("a list of elements, not {found}"))
            .iter()
            .map(element)
            .collect()
    }

    /// The rendered text of an element.
    pub(crate) fn text(&self, el: &Element) -> String {
        let text = self.call("GET", &format!("/element/{}/text", el.0), None);
        text.as_str()
            .unwrap_or_else(|| panic!("a text, not {text}"))
            .to_owned()
    }

    /// An attribute of an element, or its property of that name; `None` when neither is set.
    pub(crate) fn attribute(&self, el: &Element, name: &str) -> Option<String> {
        let value = self.call("GET", &format!("/element/{}/attribute/{name}", el.0), None);
        match value {
            Value::Null => None,
            Value::String(text) => Some(text),
            other => Some(other.to_string()),
        }
    }

    /// The computed value of a CSS property of an element, e.g. `rgb(176, 0, 32)` for a color.
    pub(crate) fn css_value(&self, el: &Element, property: &str) -> String {
        let value = self.call("GET", &format!("/element/{}/css/{property}", el.0), None);
        value
            .as_str()
            .unwrap_or_else(|| panic!("a CSS value, not {value}"))
            .to_owned()
    }

    /// Clicks an element (a link followed, a form submitted, an option chosen).
    pub(crate) fn click(&self, el: &Element) {
        self.call(
            "POST",
            &format!("/element/{}/click", el.0),
            Some(&json!({})),
        );
    }

    /// Focuses an element and types `text` into it; [`keys`] may be part of it.
    pub(crate) fn send_keys(&self, el: &Element, text: &str) {
        let body = json!({ "text": text });
        self.call("POST", &format!("/element/{}/value", el.0), Some(&body));
    }

    /// Presses and releases one key (see [`keys`]) where the focus is.
    pub(crate) fn press(&self, key: &str) {
        let actions = json!({"actions": [{
            "type": "key",
            "id": "keyboard",
            "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}],
        }]});
        self.call("POST", "/actions", Some(&actions));
    }

    /// The element that has the focus.
    pub(crate) fn active(&self) -> Element {
        element(&self.call("GET", "/element/active", None))
    }

    /// Writes a PNG of the window to `path`, making its folder.
    pub(crate) fn screenshot(&self, path: &Path) {
        let png = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a base64 PNG from WebDriver");
        assert!(png.starts_with(b"\x89PNG"), "a PNG from WebDriver");
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = command(
            &self.base,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The element referenced by a WebDriver answer.
fn element(value: &Value) -> Element {
    let id = value[ELEMENT_KEY]
        .as_str()
        .unwrap_or_else(|| panic!("an element reference, not {value}"));
    Element(id.to_owned())
}

/// One WebDriver command: its answer's `value`, or WebDriver's error and message.
fn command(base: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(Value::to_string);
    let answer = http(
        method,
        &format!("{base}{path}"),
        &[],
        body.as_deref()
            .map(|body| ("application/json; charset=utf-8", body.as_bytes())),
    )
    .map_err(|e| e.to_string())?;
    let mut json: Value = serde_json::from_slice(&answer.body).map_err(|e| {
        format!(
            "HTTP {}, not JSON ({e}): {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        )
    })?;
    let value = json["value"].take();
    if answer.status == 200 {
        Ok(value)
    } else {
        Err(format!(
            "HTTP {}: {}: {}",
            answer.status, value["error"], value["message"]
        ))
    }
}

/// An HTTP answer.
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The header fields, names in lower case.
    headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The value of the header field `name` (lower case), if sent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP/1.1 exchange with an `http://host:port/path` URL on a new connection, closed after
/// the answer: `headers` are sent as given (a `Host` among them replaces the URL's), `body` is
/// a content type and bytes.
pub(crate) fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Response> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid(format!("not an http:// URL: {url}")))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nAccept: */*\r\n").into_bytes();
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
    }
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let (content_type, bytes) = body.unwrap_or(("", b""));
    if !content_type.is_empty() {
        request.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", bytes.len()).as_bytes());
    request.extend_from_slice(bytes);
    stream.write_all(&request)?;

    // Read up to the end of the body its header announces: chromedriver says
    // `Connection: close` but keeps the connection open.
    let mut answer = Vec::new();
    let mut buffer = [0; 16 * 1024];
    let mut response: Option<Response> = None;
    loop {
        let read = stream.read(&mut buffer)?;
        answer.extend_from_slice(&buffer[..read]);
        let head = match &mut response {
            Some(head) => head,
            None => {
                let Some(end) = find(&answer, b"\r\n\r\n") else {
                    if read == 0 {
                        return Err(invalid(format!("no end of the header from {url}")));
                    }
                    continue;
                };
                let head = parse_head(&String::from_utf8_lossy(&answer[..end]))
                    .ok_or_else(|| invalid(format!("no status line from {url}")))?;
                answer.drain(..end + 4);
                response.insert(head)
            }
        };
        let chunked = head
            .header("transfer-encoding")
            .is_some_and(|coding| coding.eq_ignore_ascii_case("chunked"));
        let length = head.header("content-length").map(str::parse::<usize>);
        let body = match length {
            _ if chunked => dechunk(&answer),
            Some(Ok(length)) => answer.get(..length).map(<[u8]>::to_vec),
            Some(Err(_)) => return Err(invalid(format!("a bad Content-Length from {url}"))),
            None if read == 0 => Some(answer.clone()),
            None => None,
        };
        if let Some(body) = body {
            head.body = body;
            return Ok(response.take().expect("the header was read"));
        }
        if read == 0 {
            return Err(invalid(format!("the body from {url} was cut short")));
        }
    }
}

/// The status and header fields of an answer's head, without its body.
fn parse_head(head: &str) -> Option<Response> {
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: Vec::new(),
    })
}

/// The body of a chunked transfer coding, `None` if it is cut short or malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = find(data, b"\r\n")?;
        let size = std::str::from_utf8(&data[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        data = &data[line + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
