//! HTTP basic authentication for the stats listener. The password comes
//! from a file or an environment variable, is held in memory only, and is
//! never logged or printed (`Debug` hides it). The check compares in
//! constant time, so the answer's timing says nothing about how much of a
//! guess was right.

use base64::Engine as _;
use subtle::ConstantTimeEq;

use regha_config::{PasswordSource, StatsAuth};

/// The `WWW-Authenticate` challenge of a 401.
pub const CHALLENGE: &str = "Basic realm=\"regha stats\", charset=\"UTF-8\"";

#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("stats.auth.password_file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("stats.auth.password_env: the environment variable {0} is not set (or not UTF-8)")]
    Env(String),
    #[error("the stats password from {0} is empty")]
    Empty(String),
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// Reads the password. A file's one trailing line break is not part of
    /// it (`echo secret > file` writes one).
    pub fn load(auth: &StatsAuth) -> Result<Self, AuthError> {
        let (password, from) = match &auth.password {
            PasswordSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| AuthError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                let text = text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text)
                    .to_owned();
                (text, path.display().to_string())
            }
            PasswordSource::Env(var) => (
                std::env::var(var).map_err(|_| AuthError::Env(var.clone()))?,
                format!("${var}"),
            ),
        };
        if password.is_empty() {
            return Err(AuthError::Empty(from));
        }
        Ok(Self::new(auth.user.clone(), password))
    }

    /// Whether an `Authorization` header value carries these credentials.
    pub fn check(&self, header: Option<&[u8]>) -> bool {
        let Some(given) = header.and_then(decode_basic) else {
            return false;
        };
        let expected = format!("{}:{}", self.user, self.password);
        // Lengths leak (as with any comparison); contents do not.
        given.as_slice().ct_eq(expected.as_bytes()).into()
    }
}

/// `Basic <base64(user:password)>` -> `user:password`.
fn decode_basic(header: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    #[test]
    fn only_the_right_user_and_password_pass() {
        let c = Credentials::new("admin", "s3cret:with colon");
        assert!(c.check(Some(&header("admin:s3cret:with colon"))));
        assert!(c.check(Some(b"basic YWRtaW46czNjcmV0OndpdGggY29sb24=")));
        assert!(!c.check(None));
        assert!(!c.check(Some(&header("admin:s3cret"))));
        assert!(!c.check(Some(&header("admin:s3cret:with colonX"))));
        assert!(!c.check(Some(&header("root:s3cret:with colon"))));
        assert!(!c.check(Some(b"Bearer abc")));
        assert!(!c.check(Some(b"Basic !!!not base64")));
        assert!(!c.check(Some(b"Basic")));
    }

    #[test]
    fn the_password_is_never_shown() {
        let c = Credentials::new("admin", "hunter2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("admin"));
    }

    #[test]
    fn a_file_loses_one_trailing_line_break_and_an_empty_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("regha-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pass");
        let auth = StatsAuth {
            user: "admin".into(),
            password: PasswordSource::File(file.clone()),
        };
        std::fs::write(&file, "pa ss\r\n").unwrap();
        assert!(
            Credentials::load(&auth)
                .unwrap()
                .check(Some(&header("admin:pa ss")))
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(Credentials::load(&auth), Err(AuthError::Empty(_))));
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(
            Credentials::load(&auth),
            Err(AuthError::File { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);

        let env = StatsAuth {
            user: "admin".into(),
            password: PasswordSource::Env("REGHA_TEST_SURELY_UNSET_VAR".into()),
        };
        assert_eq!(
            Credentials::load(&env).unwrap_err(),
            AuthError::Env("REGHA_TEST_SURELY_UNSET_VAR".into())
        );
    }
}
