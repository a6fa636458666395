//! Actor keys and the printable path of an actor.

use std::fmt;
use std::str::FromStr;

/// The key that names one actor among all actors of its type: `"room-42"` or `["user", "17"]`.
///
/// A key is a list of string parts. A plain string is a key of one part, taken as it is.
/// Parts are stored joined by `/`, with `/` and `\` inside a part escaped by a `\`, so
/// `"a/b"` and `["a", "b"]` are two different actors.
///
/// A key prints (`to_string`, `{}`) as that stored form: `["shop", "berlin"]` prints
/// `shop/berlin`. To address the same actor again, pass the key itself (`ctx.key()` or a
/// clone), or parse the printed form back with [`ActorKey::parse`] (or `str::parse`). Passing
/// the printed string (`get_or_create(key.to_string())`) would make it a key of one part, a
/// different actor:
///
/// ```
/// use actor_core::ActorKey;
///
/// let key = ActorKey::from(["shop", "berlin"]);
/// let printed = key.to_string();
/// assert_eq!(printed, "shop/berlin");
/// assert_eq!(ActorKey::parse(&printed)?, key); // the same actor
/// assert_ne!(ActorKey::from(printed), key); // one part, "shop/berlin": another actor
/// # Ok::<(), actor_core::KeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorKey {
    // The encoded form: it is what the storage layer keys records by, so it is built once here.
    encoded: String,
}

impl ActorKey {
    /// Builds a key from its parts.
    pub fn from_parts<I, S>(parts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut encoded = String::new();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                encoded.push('/');
            }
            for c in part.as_ref().chars() {
                if c == '/' || c == '\\' {
                    encoded.push('\\');
                }
                encoded.push(c);
            }
        }
        Self { encoded }
    }

    /// The key as it is stored: parts joined by `/`, with `/` and `\` escaped.
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    /// Rebuilds a key from its stored form, as read from a database file, without checking
    /// it (use [`parse`](ActorKey::parse) for text from elsewhere).
    pub fn from_encoded(encoded: impl Into<String>) -> Self {
        Self {
            encoded: encoded.into(),
        }
    }

    /// Parses the printed (stored) form of a key: parts joined by `/`, with `\/` and `\\`
    /// standing for `/` and `\` inside a part. The inverse of `to_string`.
    pub fn parse(printed: &str) -> Result<Self, KeyError> {
        let mut escaped = false;
        for c in printed.chars() {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (true, '/' | '\\') | (false, _) => escaped = false,
                (true, _) => {
                    return Err(KeyError::new(
                        printed,
                        "a `\\` must be followed by `/` or `\\`",
                    ));
                }
            }
        }
        if escaped {
            return Err(KeyError::new(printed, "it ends in a lone `\\`"));
        }
        Ok(Self::from_encoded(printed))
    }

    /// The parts of the key, unescaped.
    pub fn parts(&self) -> Vec<String> {
        let mut parts = vec![String::new()];
        let mut escaped = false;
        for c in self.encoded.chars() {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '/') => parts.push(String::new()),
                (_, c) => {
                    escaped = false;
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                }
            }
        }
        parts
    }
}

impl fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.encoded, f)
    }
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encoded)
    }
}

impl FromStr for ActorKey {
    type Err = KeyError;

    /// See [`ActorKey::parse`].
    fn from_str(printed: &str) -> Result<Self, KeyError> {
        Self::parse(printed)
    }
}

/// Text that is not the printed form of an [`ActorKey`] (see [`ActorKey::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a printed actor key: {reason}")]
pub struct KeyError {
    /// The text, at most its first 64 characters.
    text: String,
    reason: &'static str,
}

impl KeyError {
    fn new(text: &str, reason: &'static str) -> Self {
        Self {
            text: crate::limits::quote(text),
            reason,
        }
    }
}

impl From<&ActorKey> for ActorKey {
    fn from(key: &ActorKey) -> Self {
        key.clone()
    }
}

impl From<&str> for ActorKey {
    fn from(key: &str) -> Self {
        Self::from_parts([key])
    }
}

impl From<String> for ActorKey {
    fn from(key: String) -> Self {
        Self::from_parts([key])
    }
}

impl From<&String> for ActorKey {
    fn from(key: &String) -> Self {
        Self::from_parts([key])
    }
}

impl<const N: usize> From<[&str; N]> for ActorKey {
    fn from(parts: [&str; N]) -> Self {
        Self::from_parts(parts)
    }
}

impl From<&[&str]> for ActorKey {
    fn from(parts: &[&str]) -> Self {
        Self::from_parts(parts)
    }
}

impl From<Vec<String>> for ActorKey {
    fn from(parts: Vec<String>) -> Self {
        Self::from_parts(parts)
    }
}

/// Names one actor in messages and errors: its type name and its key, printed `Counter/room-42`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ActorPath {
    /// The actor type's name ([`Actor::NAME`](crate::Actor::NAME)).
    pub kind: &'static str,
    /// The actor's key.
    pub key: ActorKey,
}

impl fmt::Debug for ActorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:?})", self.kind, self.key)
    }
}

/// `Counter("room-42")`; a key longer than 64 bytes is cut, with `…`.
impl fmt::Display for ActorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({:?})",
            self.kind,
            crate::limits::quote(self.key.as_str())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ActorKey;

    #[test]
    fn parts_round_trip_and_do_not_collide() {
        let composite = ActorKey::from(["a", "b"]);
        let plain = ActorKey::from("a/b");
        assert_ne!(composite, plain);
        assert_eq!(composite.parts(), ["a", "b"]);
        assert_eq!(plain.parts(), ["a/b"]);
        let odd = ActorKey::from(["x\\", "/y"]);
        assert_eq!(odd.parts(), ["x\\", "/y"]);
        assert_eq!(ActorKey::from("room-42").as_str(), "room-42");
    }

    #[test]
    fn the_printed_form_parses_back() {
        for key in [
            ActorKey::from(["shop", "berlin"]),
            ActorKey::from("a/b"),
            ActorKey::from(["x\\", "/y", ""]),
            ActorKey::from(""),
            ActorKey::from("room-42"),
        ] {
            assert_eq!(ActorKey::parse(&key.to_string()), Ok(key.clone()));
            assert_eq!(key.to_string().parse::<ActorKey>(), Ok(key));
        }
        assert!(ActorKey::parse("a\\").is_err());
        assert!(ActorKey::parse("a\\b").is_err());
        assert_ne!(
            ActorKey::from(ActorKey::from(["shop", "berlin"]).to_string()),
            ActorKey::from(["shop", "berlin"])
        );
    }
}
