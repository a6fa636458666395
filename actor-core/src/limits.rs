//! Every limit on what callers control, and how errors quote what they refuse.
//!
//! A limit exists so that no input, however large or deep, costs unbounded time or memory or
//! takes a thread down; an error that refuses something quotes at most its first
//! [`QUOTE_BYTES`] bytes, so that a refused 10 MiB name does not become a 10 MiB message.

/// The longest actor key, in bytes of its encoded form
/// ([`ActorKey::as_str`](crate::ActorKey::as_str)). A longer key is refused with
/// [`StartError::KeyTooLong`](crate::StartError::KeyTooLong).
pub const MAX_ACTOR_KEY_BYTES: usize = 1024;

/// How deep a stored or sent value may nest: arrays, maps, structs and enum variants each
/// count as a level (a struct or tuple variant as two, since CBOR writes it as a map around
/// its fields). Half the decoder's limit of 256, so what is written always decodes. A deeper
/// value is refused with [`EncodeError::TooDeep`](crate::EncodeError::TooDeep).
pub const MAX_DEPTH: usize = 128;

/// The longest key-value key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest store id, in bytes (store ids may not be empty either).
pub const MAX_STORE_NAME_BYTES: usize = 256;
/// The longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// The longest action name a call by name accepts (longer names are unknown at once).
pub(crate) const MAX_ACTION_NAME_BYTES: usize = 256;

/// The most of a refused input an error message quotes.
pub(crate) const QUOTE_BYTES: usize = 64;

/// At most the first `max` bytes of `text` (cut at a character boundary), with `…` when cut.
pub(crate) fn prefix(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The start of a refused input, as error messages quote it.
pub(crate) fn quote(text: &str) -> String {
    prefix(text, QUOTE_BYTES)
}
