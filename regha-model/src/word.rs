//! Enums that are words: `tcp` in the config, `"up"` in `/status`,
//! `state="master"` on a metric. [`words!`] gives each one its spelling in
//! one place, with `as_str`, `Display`, `FromStr`, serde in that spelling,
//! and `ALL` (for error messages that list the choices, and for metrics that
//! export one gauge per value).

use std::fmt;

/// A word that names none of an enum's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownWord {
    /// What the enum is (`protocol`, `hash mode`).
    pub what: &'static str,
    pub word: String,
    /// Every accepted word, in declaration order.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}: expected one of {}",
            self.what,
            self.word,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownWord {}

/// An enum that is a word: what generic code (config checks, one gauge per
/// value) needs of it.
pub trait Word: Copy + Eq + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// Every word, in declaration order.
    const WORDS: &'static [&'static str];
    /// The word for this value.
    fn word(self) -> &'static str;
    /// The value a word names, if any.
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.word() == word)
    }
}

/// Declares `enum $name { $variant = "word", ... }` with its words.
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// Every word, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// The word for this value, as written in configs, documents
            /// and metric labels.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }
        }

        impl $crate::word::Word for $name {
            const ALL: &'static [Self] = Self::ALL;
            const WORDS: &'static [&'static str] = Self::WORDS;
            fn word(self) -> &'static str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::word::UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    _ => Err($crate::word::UnknownWord {
                        what: $what,
                        word: s.to_owned(),
                        expected: Self::WORDS,
                    }),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
