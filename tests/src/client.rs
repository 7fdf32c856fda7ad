//! Clients for the lab: plain HTTP GETs from a chosen source address
//! (enough to talk to a registry's `/v2/`), run inside a namespace.

use std::{
    io::{Read, Write},
    net::{IpAddr, SocketAddr},
    time::Duration,
};

/// A socket bound to `src` and connected to `dst`.
pub fn connect_from(
    src: IpAddr,
    dst: SocketAddr,
    timeout: Duration,
) -> std::io::Result<std::net::TcpStream> {
    let domain = if dst.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(src, 0).into())?;
    sock.connect_timeout(&dst.into(), timeout)?;
    let s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// `GET path` from `src` to `dst`; the status code, or what went wrong.
pub fn http_get(src: IpAddr, dst: SocketAddr, path: &str) -> Result<u16, String> {
    let mut s =
        connect_from(src, dst, Duration::from_secs(3)).map_err(|e| format!("connect: {e}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {dst}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "not an HTTP answer: {:?}",
                text.chars().take(80).collect::<String>()
            )
        })
}

/// A quick liveness probe: a new connection from `src` to `dst` within
/// `timeout`, `GET /v2/`, and whether the answer starts `HTTP/1.1 200`.
/// Any failure is just `false`: probers count failures, they do not
/// explain them.
pub fn answers_200(src: IpAddr, dst: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = connect_from(src, dst, timeout) else {
        return false;
    };
    if s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Reads an HTTP/1.1 response head: the status and the headers.
fn read_head(s: &mut std::net::TcpStream) -> Result<(u16, Vec<(String, String)>), String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "connection closed after {} bytes of head",
                head.len()
            ));
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {text:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

/// Pushes `blob` to a registry at `dst` as a monolithic upload
/// (`POST .../blobs/uploads/`, then `PUT ...?digest=`), writing the body in
/// 64 KiB chunks with `pace` between them so the push stays in flight.
/// Returns the PUT's status (201 when the registry stored it) and the digest.
pub fn push_blob(
    src: IpAddr,
    dst: SocketAddr,
    repo: &str,
    blob: &[u8],
    pace: Duration,
) -> Result<(u16, String), String> {
    use sha2::Digest;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(blob));
    let mut s =
        connect_from(src, dst, Duration::from_secs(10)).map_err(|e| format!("connect: {e}"))?;
    write!(
        s,
        "POST /v2/{repo}/blobs/uploads/ HTTP/1.1\r\nHost: {dst}\r\nContent-Length: 0\r\n\r\n"
    )
    .map_err(|e| format!("send POST: {e}"))?;
    let (status, headers) = read_head(&mut s)?;
    if status != 202 {
        return Err(format!("POST answered {status}"));
    }
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .ok_or("no Location in the upload answer")?;
    // The registry answers an absolute URL; keep its path and query.
    let path = match location.find("/v2/") {
        Some(i) => location[i..].to_owned(),
        None => return Err(format!("unexpected Location {location}")),
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    write!(
        s,
        "PUT {path}{sep}digest={digest} HTTP/1.1\r\nHost: {dst}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        blob.len()
    )
    .map_err(|e| format!("send PUT head: {e}"))?;
    for chunk in blob.chunks(64 * 1024) {
        s.write_all(chunk).map_err(|e| format!("send body: {e}"))?;
        std::thread::sleep(pace);
    }
    let (status, _) = read_head(&mut s)?;
    Ok((status, digest))
}

/// An HTTP/1.1 answer: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `dst` with extra header lines (e.g. `Authorization: ...`),
/// `Connection: close`; the whole answer.
pub fn http_fetch(dst: SocketAddr, path: &str, headers: &[&str]) -> Result<HttpAnswer, String> {
    let mut s = std::net::TcpStream::connect_timeout(&dst, Duration::from_secs(3))
        .map_err(|e| format!("connect {dst}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {dst}\r\n{extra}Connection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let (status, headers) = read_head(&mut s)?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)
        .map_err(|e| format!("read body: {e}"))?;
    Ok(HttpAnswer {
        status,
        headers,
        body: String::from_utf8(body).map_err(|e| format!("body not UTF-8: {e}"))?,
    })
}

/// One HTTP/1.1 connection kept open for several requests (keep-alive), as
/// a long pull or push holds one.
pub struct KeepAlive {
    stream: std::net::TcpStream,
    dst: SocketAddr,
}

impl KeepAlive {
    pub fn open(src: IpAddr, dst: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            stream: connect_from(src, dst, Duration::from_secs(3))?,
            dst,
        })
    }

    /// Gives up a request after `limit` without an answer (a connection
    /// whose packets are dropped would otherwise wait for ever).
    pub fn with_timeout(self, limit: Duration) -> Self {
        self.stream
            .set_read_timeout(Some(limit))
            .expect("set_read_timeout");
        self.stream
            .set_write_timeout(Some(limit))
            .expect("set_write_timeout");
        self
    }

    /// The local (client) address of the connection.
    pub fn local(&self) -> SocketAddr {
        self.stream.local_addr().expect("a connected socket")
    }

    /// `GET path` on the open connection; the status.
    pub fn get(&mut self, path: &str) -> Result<u16, String> {
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.dst
        )
        .map_err(|e| format!("send: {e}"))?;
        let (status, headers) = read_head(&mut self.stream)?;
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or("no Content-Length in a keep-alive answer")?;
        let mut body = vec![0u8; len];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| format!("read body: {e}"))?;
        Ok(status)
    }
}
