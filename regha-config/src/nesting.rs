//! The nesting guard: a document whose collections nest deeper than
//! [`MAX_DEPTH`] is refused before serde_yaml parses it.
//!
//! Why. serde_yaml 0.9 parses with unsafe-libyaml (libyaml translated to
//! Rust). Its scanner keeps one "simple key" slot per open flow collection
//! (`[`, `{`) and walks every slot for each token it fetches
//! (`yaml_parser_fetch_more_tokens`, `yaml_parser_stale_simple_keys`). It
//! skips only a run of stale slots (a line or 1024 characters old) at the
//! bottom of the stack, never a slot spent on a key, so time grows with the
//! square of the nesting: `{a: ` nested 20,000 times takes 3 s and 40,000
//! times 12 s in a release build. Nested `[` go stale in order, which caps
//! the walk at about 1024 slots a token: 100,000 of them kept a debug build
//! of `check-config` busy past 20 s.
//! serde_yaml's own limit (128 levels) does not help: it applies when
//! deserialising, after libyaml has scanned the whole document into events.
//!
//! How. The same libyaml parser runs here first, one event at a time,
//! counting the collections open (block and flow alike), and stops at the
//! first that opens past [`MAX_DEPTH`]. Counting with the parser serde_yaml
//! then runs leaves no second grammar to get wrong: quotes, comments, block
//! scalars and multi-line plain scalars are whatever libyaml makes of them.
//! While at most [`MAX_DEPTH`] collections are open each token costs at most
//! that many steps, and the scanner reads ahead of the parser only while a
//! simple key is possible, which libyaml ends after 1024 characters or a
//! line break; so the guard stops within about a thousand levels of the
//! limit, in time linear in the document and bounded memory (each event is
//! dropped once counted). A document libyaml cannot parse is left to
//! serde_yaml, whose error, with its position, is the one reported. The
//! guard doubles the parsing time, which for a config of a few kilobytes is
//! nothing.
//!
//! unsafe-libyaml is the crate serde_yaml depends on: Cargo resolves one
//! version of it for both, so the guard and the parse always agree.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use unsafe_libyaml::{yaml_event_t, yaml_event_type_t, yaml_mark_t, yaml_parser_t};

use crate::error::ConfigError;

/// The deepest nesting accepted. A regha config needs [`SCHEMA_DEPTH`];
/// ten times that leaves room for any layout while keeping libyaml's work
/// per token small.
pub(crate) const MAX_DEPTH: usize = 64;

/// The deepest a valid config nests: the document's mapping, `services`,
/// a service, its `health`, `http`, and the `expect` list.
pub(crate) const SCHEMA_DEPTH: usize = 6;

/// Refuses `text` when its collections nest deeper than [`MAX_DEPTH`], with
/// the position of the first collection past it. Anything else, syntax
/// errors included, passes: serde_yaml reports those.
pub(crate) fn check(text: &str) -> Result<(), ConfigError> {
    let Some(mut parser) = Parser::new(text.as_bytes()) else {
        return Ok(());
    };
    let mut depth = 0usize;
    while let Some((event, mark)) = parser.next() {
        match event {
            unsafe_libyaml::YAML_SEQUENCE_START_EVENT
            | unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let flow =
                        matches!(text.as_bytes().get(mark.index as usize), Some(b'[' | b'{'));
                    return Err(too_deep(mark, flow));
                }
            }
            unsafe_libyaml::YAML_SEQUENCE_END_EVENT | unsafe_libyaml::YAML_MAPPING_END_EVENT => {
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The refusal, at the collection past the limit: `flow` when it opens
/// with `[` or `{` (so the likely cause is one never closed), else a block
/// collection (entries indented ever deeper).
fn too_deep(mark: yaml_mark_t, flow: bool) -> ConfigError {
    let hint = if flow {
        "look for a `[` or `{` that is never closed"
    } else {
        "look for entries indented ever deeper"
    };
    // libyaml counts from 0; serde_yaml's messages, like editors, from 1.
    ConfigError::new(
        "",
        format!(
            "line {} column {}: collections nested more than {MAX_DEPTH} levels deep; a regha config needs at most {SCHEMA_DEPTH}: {hint}",
            mark.line + 1,
            mark.column + 1
        ),
    )
}

/// A libyaml parser over borrowed text, deleted on drop.
struct Parser<'input> {
    /// Boxed because libyaml keeps a pointer to the parser in the parser
    /// (its read handler's data): it must not move once the input is set.
    state: Box<MaybeUninit<yaml_parser_t>>,
    /// Set at the stream's end or the first error, after which libyaml
    /// must not be asked for more.
    done: bool,
    /// libyaml keeps a pointer to the input, which must outlive the parser.
    input: PhantomData<&'input [u8]>,
}

impl<'input> Parser<'input> {
    /// None only when libyaml cannot allocate its buffers.
    fn new(input: &'input [u8]) -> Option<Self> {
        let mut state = Box::new(MaybeUninit::<yaml_parser_t>::uninit());
        let parser = state.as_mut_ptr();
        // SAFETY: `parser` points at memory the box owns, which
        // yaml_parser_initialize zeroes and then fills in.
        if unsafe { unsafe_libyaml::yaml_parser_initialize(parser) }.fail {
            return None;
        }
        // SAFETY: the parser was initialised above and has no input yet.
        // The input outlives the parser ('input), and the box never moves
        // its contents, so both pointers libyaml keeps stay valid.
        unsafe {
            unsafe_libyaml::yaml_parser_set_encoding(parser, unsafe_libyaml::YAML_UTF8_ENCODING);
            unsafe_libyaml::yaml_parser_set_input_string(
                parser,
                input.as_ptr(),
                input.len() as u64,
            );
        }
        Some(Self {
            state,
            done: false,
            input: PhantomData,
        })
    }

    /// The next event's type and where it starts; none after the stream's
    /// end or on a syntax error.
    fn next(&mut self) -> Option<(yaml_event_type_t, yaml_mark_t)> {
        if self.done {
            return None;
        }
        let parser = self.state.as_mut_ptr();
        let mut event = MaybeUninit::<yaml_event_t>::uninit();
        let event = event.as_mut_ptr();
        // SAFETY: the parser is initialised (new) and has neither failed nor
        // ended (done). On success the event is initialised; it is read,
        // then deleted once.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(parser, event).fail {
                self.done = true;
                return None;
            }
            let found = ((*event).type_, (*event).start_mark);
            unsafe_libyaml::yaml_event_delete(event);
            self.done = found.0 == unsafe_libyaml::YAML_STREAM_END_EVENT;
            Some(found)
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: a Parser exists only once yaml_parser_initialize succeeded;
        // this is its one delete.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.state.as_mut_ptr()) }
    }
}
