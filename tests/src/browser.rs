//! A real headless Chromium (Debian's `chromium`) in a lab namespace, driven
//! over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
//! messages, each ended by a NUL, on the browser's fds 3 and 4), so a test
//! loads a page, reads the DOM the browser built from it, and takes a
//! screenshot, without WebDriver or a debugging port.
//!
//! It runs as root, which headless Chromium allows only with
//! `--no-sandbox`, on a fresh profile, with everything that would talk to
//! the outside turned off (background networking, component updates,
//! sync); in a lab namespace it reaches what the lab serves and nothing
//! else. It is killed on drop, and its profile removed.

use std::{
    fs::File,
    io::{BufRead, BufReader, Write},
    os::{
        fd::{FromRawFd, IntoRawFd, OwnedFd},
        unix::process::CommandExt,
    },
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{netns::NetNs, tempdir::TempDir};

/// The browser of Debian's `chromium` package (`cargo xtask setup`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one DevTools call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The viewport screenshots are taken at (the page's full height is kept).
const WIDTH: u32 = 1500;
const HEIGHT: u32 = 900;

pub struct Browser {
    child: Child,
    to: File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    profile: TempDir,
}

/// A pipe whose ends close on exec (the child's end is duplicated onto its
/// fd 3 or 4 without that flag).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both are fresh fds this process owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    /// Starts Chromium in `ns` with a blank page and attaches to it.
    pub fn launch(ns: &NetNs) -> Self {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: `cargo xtask setup` installs Debian's chromium"
        );
        let profile = TempDir::new("chromium");
        let (child_reads, we_write) = pipe();
        let (we_read, child_writes) = pipe();
        let (r, w) = (child_reads.into_raw_fd(), child_writes.into_raw_fd());
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", ns.name()))
            .arg(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(profile.path().join("chromium.log")).expect("chromium log"));
        // SAFETY: only async-signal-safe calls between fork and exec: the
        // ends go to fds 3 and 4 by way of fds above them, so that neither
        // overwrites the other and dup2 always clears close-on-exec.
        unsafe {
            cmd.pre_exec(move || {
                let hi_r = libc::fcntl(r, libc::F_DUPFD, 100);
                let hi_w = libc::fcntl(w, libc::F_DUPFD, 101);
                if hi_r < 0 || hi_w < 0 || libc::dup2(hi_r, 3) < 0 || libc::dup2(hi_w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(hi_r);
                libc::close(hi_w);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium under nsenter");
        // SAFETY: the child's ends, ours to close now that it has them.
        unsafe {
            drop(OwnedFd::from_raw_fd(r));
            drop(OwnedFd::from_raw_fd(w));
        }
        let (tx, from) = mpsc::channel();
        let reader = File::from(we_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            while matches!(reader.read_until(0, &mut buf), Ok(n) if n > 0) {
                buf.pop_if(|b| *b == 0);
                if let Ok(msg) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(msg).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        let mut b = Self {
            child,
            to: File::from(we_write),
            from,
            next_id: 0,
            session: String::new(),
            profile,
        };
        let target = b
            .call_browser("Target.createTarget", json!({ "url": "about:blank" }))
            .unwrap_or_else(|e| panic!("chromium did not start: {e}\n{}", b.log()));
        let target = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = b
            .call_browser(
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .expect("attach to the page");
        b.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned();
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false }),
        )
        .expect("set the viewport");
        b.call("Network.enable", json!({})).expect("Network.enable");
        b
    }

    /// Chromium's own log (its stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default()
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if session {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("plain data");
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .map_err(|e| format!("{method}: write to chromium: {e}"))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .from
                .recv_timeout(left)
                .map_err(|e| format!("{method}: no answer from chromium: {e}"))?;
            // Events (no id) and answers to nobody else are skipped.
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = answer.get("error") {
                return Err(format!("{method}: {err}"));
            }
            return Ok(answer["result"].clone());
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, false)
    }

    /// A DevTools call on the page.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, true)
    }

    /// Sends `name: value` with every request of the page from now on (the
    /// reloads the page makes by itself included).
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.call(
            "Network.setExtraHTTPHeaders",
            json!({ "headers": { name: value } }),
        )
        .expect("set an extra header");
    }

    /// Navigates to `url` and waits until the page has loaded.
    pub fn navigate(&mut self, url: &str) {
        if let Err(e) = self.try_navigate(url) {
            panic!("navigate to {url}: {e}\n{}", self.log());
        }
    }

    /// Navigates to `url`; the browser's error (`net::ERR_...`) when it
    /// shows no page, as for a 401 it has no credentials to answer.
    pub fn try_navigate(&mut self, url: &str) -> Result<(), String> {
        let r = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(err) = r.get("errorText").and_then(Value::as_str) {
            return Err(err.to_owned());
        }
        let start = Instant::now();
        while self.eval("document.readyState").as_str() != Some("complete") {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{url} did not load in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The value of a JavaScript expression in the page (the test's own
    /// probe: the page itself runs no script).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .unwrap_or_else(|e| panic!("evaluate {expression}: {e}"));
        r["result"]["value"].clone()
    }

    /// The DOM as the browser built it.
    pub fn html(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's text as a person reads it.
    pub fn text(&mut self) -> String {
        self.eval("document.body ? document.body.innerText : ''")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A PNG of the whole page into `path` (its directory created).
    pub fn screenshot(&mut self, path: &Path) {
        let metrics = self
            .call("Page.getLayoutMetrics", json!({}))
            .expect("layout metrics");
        let size = &metrics["cssContentSize"];
        let clip = json!({
            "x": 0, "y": 0,
            "width": size["width"].as_f64().unwrap_or(f64::from(WIDTH)),
            "height": size["height"].as_f64().unwrap_or(f64::from(HEIGHT)),
            "scale": 1,
        });
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "clip": clip, "captureBeyondViewport": true }),
            )
            .expect("screenshot");
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("PNG data"))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Asked to close (its renderers go with it), without waiting for an
        // answer a hung browser would not give; killed if it does not.
        let _ = self
            .to
            .write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
