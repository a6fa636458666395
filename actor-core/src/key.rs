//! Actor keys and the printable path of an actor.

use std::fmt;

/// The key that names one actor among all actors of its type: `"room-42"` or `["user", "17"]`.
///
/// A key is a list of string parts. A plain string is a key of one part. Parts are stored
/// joined by `/`, with `/` and `\` inside a part escaped by a `\`, so `"a/b"` and `["a", "b"]`
/// are two different actors.
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

    /// Rebuilds a key from its stored form.
    pub fn from_encoded(encoded: impl Into<String>) -> Self {
        Self {
            encoded: encoded.into(),
        }
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

impl fmt::Display for ActorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:?})", self.kind, self.key.as_str())
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
}
