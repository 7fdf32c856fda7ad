//! The admin socket, `<state dir>/<iface>.sock`: root-only twice over. The
//! file is mode 0600 and owned by root, so nobody else can connect; and the
//! server asks the kernel who connected (`SO_PEERCRED`) and refuses any uid
//! but 0, should the file's mode ever be loosened.

use std::{
    io::{BufRead as _, Write as _},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
};
use tracing::{debug, info, warn};

use super::protocol::{MAX_REQUEST, Request, Response, parse_request};

/// A request for the agent's loop, with where to send its answer.
pub type Command = (Request, oneshot::Sender<Response>);

/// How long a client may take to send its line, and the agent to answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the socket (replacing a stale one), mode 0600, owned by root.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => debug!(path = %path.display(), "stale admin socket removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    std::os::unix::fs::chown(path, Some(0), Some(0))?;
    Ok(listener)
}

/// Serves connections until the agent's loop goes away.
pub async fn serve(listener: UnixListener, agent: mpsc::Sender<Command>) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!(error = %e, "admin socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if agent.is_closed() {
            return;
        }
        let agent = agent.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, agent).await {
                debug!(error = %e, "admin connection ended");
            }
        });
    }
}

/// Whether the peer may send commands: only root.
pub fn authorize(uid: u32) -> Result<(), Response> {
    if uid == 0 {
        Ok(())
    } else {
        Err(Response::error(format!(
            "permission denied: the admin socket takes commands from root only (you are uid {uid})"
        )))
    }
}

async fn connection(stream: UnixStream, agent: mpsc::Sender<Command>) -> std::io::Result<()> {
    let uid = stream.peer_cred()?.uid();
    let (read, mut write) = stream.into_split();
    // The request is read first in every case: closing with it unread
    // would reset the connection before the client reads the refusal.
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_REQUEST as u64 + 1);
    let received = tokio::time::timeout(IO_TIMEOUT, reader.read_line(&mut line)).await;
    let answer = match (authorize(uid), received) {
        (Err(refused), _) => {
            warn!(uid, "admin command refused: not root");
            refused
        }
        (Ok(()), Err(_)) => Response::error("no request within 10 s"),
        (Ok(()), Ok(Err(e))) => Response::error(format!("cannot read the request: {e}")),
        (Ok(()), Ok(Ok(_))) => match parse_request(&line) {
            Err(e) => Response::error(e),
            Ok(request) => {
                info!(?request, "admin command");
                let (tx, rx) = oneshot::channel();
                if agent.send((request, tx)).await.is_err() {
                    Response::error("the agent is stopping")
                } else {
                    match tokio::time::timeout(IO_TIMEOUT, rx).await {
                        Ok(Ok(r)) => r,
                        _ => Response::error("the agent did not answer"),
                    }
                }
            }
        },
    };
    let mut text = serde_json::to_string(&answer).expect("plain data serializes");
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

/// What can go wrong talking to the agent, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no regha agent is running on {iface}: {path} does not exist (is the agent started, with the same --state-dir?)"
    )]
    NotRunning { iface: String, path: PathBuf },
    #[error(
        "permission denied: {path} takes commands from root only: run it as root (sudo regha-agent ...)"
    )]
    NotRoot { path: PathBuf },
    #[error("talking to the agent over {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the agent's answer is not understood: {0}")]
    Answer(String),
}

/// Sends one request to the agent on `iface` and returns its answer.
pub fn request(path: &Path, iface: &str, req: &Request) -> Result<Response, ClientError> {
    let io = |source| ClientError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning {
                iface: iface.to_owned(),
                path: path.to_owned(),
            }
        }
        std::io::ErrorKind::PermissionDenied => ClientError::NotRoot {
            path: path.to_owned(),
        },
        _ => io(e),
    })?;
    stream.set_read_timeout(Some(IO_TIMEOUT * 2)).map_err(io)?;
    let mut line = serde_json::to_string(req).expect("plain data serializes");
    line.push('\n');
    // A refusal may come before the request is written: read it anyway.
    let sent = stream.write_all(line.as_bytes());
    let mut answer = String::new();
    let read = std::io::BufReader::new(stream).read_line(&mut answer);
    match (sent, read) {
        (_, Ok(n)) if n > 0 => {}
        (Err(e), _) | (Ok(()), Err(e)) => return Err(io(e)),
        (Ok(()), Ok(_)) => {
            return Err(ClientError::Answer(
                "the agent closed the connection without an answer".into(),
            ));
        }
    }
    serde_json::from_str(&answer).map_err(|e| ClientError::Answer(format!("{e}: {answer:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_is_authorized() {
        assert!(authorize(0).is_ok());
        let refused = authorize(65534).unwrap_err();
        assert!(!refused.ok);
        assert!(refused.message.contains("root only"), "{}", refused.message);
        assert!(refused.message.contains("65534"), "{}", refused.message);
    }

    #[tokio::test]
    async fn a_request_reaches_the_agent_and_its_answer_the_client() {
        let dir = std::env::temp_dir().join(format!("regha-admin-{}", std::process::id()));
        let path = dir.join("t0.sock");
        let listener = bind(&path).expect("bind");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (tx, mut rx) = mpsc::channel::<Command>(4);
        tokio::spawn(serve(listener, tx));
        tokio::spawn(async move {
            while let Some((req, answer)) = rx.recv().await {
                let _ = answer.send(Response::ok(format!("got {req:?}")));
            }
        });
        let client_path = path.clone();
        let answer = tokio::task::spawn_blocking(move || {
            request(&client_path, "t0", &Request::VrrpResign { instance: None })
        })
        .await
        .unwrap()
        .expect("answer");
        assert_eq!(answer, Response::ok("got VrrpResign { instance: None }"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_socket_says_no_agent_runs() {
        let e = request(
            Path::new("/nonexistent/regha/x.sock"),
            "x",
            &Request::VrrpResume { instance: None },
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("no regha agent is running on x"),
            "{e}"
        );
    }
}
