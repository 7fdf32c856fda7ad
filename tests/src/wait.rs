//! The tests' one way to wait for something: poll a probe until it is
//! done, and on time-out panic with what was awaited, what was last seen,
//! and whatever context (logs) the caller attached.
//!
//! ```ignore
//! let state = wait_for("be1 down", secs(5))
//!     .context(|| agent.log())
//!     .until(|| agent.state().filter(|s| is_down(s)));
//! ```
//!
//! A probe returns a `bool`, an `Option<T>` or a `Result<T, S>`; with the
//! last, `S` is what was seen instead (printed with `{:?}` on time-out).
//! The time-outs are limits for a failure message, never measurements:
//! a test that needs a bound on how long something took asserts it apart.

use std::{
    fmt::Debug,
    time::{Duration, Instant},
};

/// How often a probe runs unless told otherwise: often enough that a
/// takeover timed with it is late by a few tens of milliseconds at most.
pub const DEFAULT_EVERY: Duration = Duration::from_millis(20);

/// A wait being set up; [`Wait::until`] runs it.
#[must_use = "a wait does nothing until `until` runs it"]
pub struct Wait<'a> {
    what: String,
    timeout: Duration,
    every: Duration,
    context: Option<Box<dyn Fn() -> String + 'a>>,
}

/// Waits for `what`, at most `timeout`.
pub fn wait_for<'a>(what: impl Into<String>, timeout: Duration) -> Wait<'a> {
    Wait {
        what: what.into(),
        timeout,
        every: DEFAULT_EVERY,
        context: None,
    }
}

impl<'a> Wait<'a> {
    /// Polls every `every` instead of [`DEFAULT_EVERY`] (probes that cost
    /// something, like an HTTP request or reading a log).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// Adds `context()` (e.g. the daemons' logs) to the panic message; it
    /// runs only on time-out.
    pub fn context(mut self, context: impl Fn() -> String + 'a) -> Self {
        self.context = Some(Box::new(context));
        self
    }

    /// Polls `probe` until it is done and returns what it yielded; panics
    /// after the time-out. The probe runs at least once, and once more
    /// after the deadline, so a slow probe is never cut off unseen.
    #[track_caller]
    pub fn until<P: Probe>(self, probe: impl FnMut() -> P) -> P::Value {
        match self.try_until(probe) {
            Ok(value) => value,
            Err(why) => panic!("{why}"),
        }
    }

    /// [`Wait::until`] for waits whose time-out is not a failure (the
    /// caller then cleans up, or reports otherwise): the message `until`
    /// would panic with, as an error.
    pub fn try_until<P: Probe>(self, mut probe: impl FnMut() -> P) -> Result<P::Value, String> {
        let start = Instant::now();
        loop {
            let deadline_passed = start.elapsed() >= self.timeout;
            match probe().done() {
                Ok(value) => return Ok(value),
                Err(seen) if deadline_passed => {
                    let context = self.context.as_ref().map(|c| c()).unwrap_or_default();
                    return Err(format!(
                        "waited {:?} for {}; last seen: {seen}\n{context}",
                        self.timeout, self.what
                    ));
                }
                Err(_) => std::thread::sleep(self.every),
            }
        }
    }
}

/// What a probe returns: done with a value, or not yet with what it saw.
pub trait Probe {
    type Value;
    fn done(self) -> Result<Self::Value, String>;
}

impl Probe for bool {
    type Value = ();
    fn done(self) -> Result<(), String> {
        if self { Ok(()) } else { Err("false".into()) }
    }
}

impl<T> Probe for Option<T> {
    type Value = T;
    fn done(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing".into())
    }
}

impl<T, S: Debug> Probe for Result<T, S> {
    type Value = T;
    fn done(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:#?}"))
    }
}

/// `Ok(())` when `cond` holds, else what was seen: a probe that reports.
pub fn seen<S>(cond: bool, seen: S) -> Result<(), S> {
    if cond { Ok(()) } else { Err(seen) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_that_succeeds_returns_its_value() {
        let mut n = 0;
        let v = wait_for("n reaches 3", Duration::from_secs(5))
            .every(Duration::from_millis(1))
            .until(|| {
                n += 1;
                (n >= 3).then_some(n)
            });
        assert_eq!(v, 3);
    }

    #[test]
    fn a_time_out_names_what_and_the_last_state_and_the_context() {
        let err = std::panic::catch_unwind(|| {
            wait_for("the impossible", Duration::from_millis(30))
                .every(Duration::from_millis(5))
                .context(|| "the log says why".into())
                .until(|| seen(false, "state 42"))
        })
        .expect_err("it times out");
        let msg = err.downcast_ref::<String>().expect("a formatted panic");
        assert!(msg.contains("for the impossible"), "{msg}");
        assert!(msg.contains("state 42"), "{msg}");
        assert!(msg.contains("the log says why"), "{msg}");
    }
}
