//! The stored form of an actor: a short binary header followed by the state as CBOR.
//!
//! ```text
//! offset  size  field
//! 0       1     format version (currently 1)
//! 1       16    actor id (uuid, big-endian bytes)
//! 17      4     state version (u32, little-endian; `Actor::STATE_VERSION`)
//! 21      ..    the state, CBOR (RFC 8949) as written by ciborium
//! ```
//!
//! `docs/storage-format.md` is the user-facing description of the same layout.

use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{DecodeError, EncodeError};

/// The snapshot format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes before the CBOR payload.
pub(crate) const HEADER_LEN: usize = 1 + 16 + 4;

/// Encodes `state` into `buf` (cleared first) as a full record.
pub(crate) fn encode<S: Serialize>(
    buf: &mut Vec<u8>,
    id: Uuid,
    state_version: u32,
    state: &S,
) -> Result<(), EncodeError> {
    buf.clear();
    buf.push(FORMAT_VERSION);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(&state_version.to_le_bytes());
    ciborium::into_writer(state, &mut *buf).map_err(EncodeError::from)
}

/// The header of a record, read without touching the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) id: Uuid,
    pub(crate) state_version: u32,
}

/// Reads and checks a record's header.
pub(crate) fn header(record: &[u8]) -> Result<Header, DecodeError> {
    let Some(&format) = record.first() else {
        return Err(DecodeError::Truncated { len: 0 });
    };
    if format != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedFormat {
            found: format,
            supported: FORMAT_VERSION,
        });
    }
    let (Some(id), Some(version)) = (record.get(1..17), record.get(17..HEADER_LEN)) else {
        return Err(DecodeError::Truncated { len: record.len() });
    };
    let id = Uuid::from_slice(id).map_err(|_| DecodeError::Truncated { len: record.len() })?;
    let mut v = [0u8; 4];
    v.copy_from_slice(version);
    Ok(Header {
        id,
        state_version: u32::from_le_bytes(v),
    })
}

/// A stored state of another [`STATE_VERSION`](crate::Actor::STATE_VERSION), handed to
/// [`Actor::migrate`](crate::Actor::migrate).
#[derive(Debug, Clone, Copy)]
pub struct StoredState<'a> {
    version: u32,
    expected: u32,
    payload: &'a [u8],
}

impl StoredState<'_> {
    /// The state version the record was written with.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Decodes the stored state into `T`, the shape it had in that version.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        ciborium::from_reader(self.payload).map_err(DecodeError::from)
    }

    /// The error that refuses this version: [`DecodeError::StateVersion`].
    pub fn unsupported(&self) -> DecodeError {
        DecodeError::StateVersion {
            found: self.version,
            expected: self.expected,
        }
    }
}

/// Decodes a record into its header and an actor's state, migrating a state stored under
/// another version with [`Actor::migrate`](crate::Actor::migrate).
pub(crate) fn decode_state<A: crate::Actor>(record: &[u8]) -> Result<(Header, A), DecodeError> {
    let header = header(record)?;
    let payload = record.get(HEADER_LEN..).unwrap_or_default();
    if header.state_version == A::STATE_VERSION {
        let state = ciborium::from_reader(payload).map_err(DecodeError::from)?;
        return Ok((header, state));
    }
    let state = A::migrate(StoredState {
        version: header.state_version,
        expected: A::STATE_VERSION,
        payload,
    })?;
    Ok((header, state))
}

/// Decodes a whole record into its header and any deserializable state, checking the state
/// version (the unit tests' view of the format; actors go through [`decode_state`]).
#[cfg(test)]
pub(crate) fn decode<S: DeserializeOwned>(
    record: &[u8],
    expected_state_version: u32,
) -> Result<(Header, S), DecodeError> {
    let header = header(record)?;
    if header.state_version != expected_state_version {
        return Err(DecodeError::StateVersion {
            found: header.state_version,
            expected: expected_state_version,
        });
    }
    let payload = record.get(HEADER_LEN..).unwrap_or_default();
    let state = ciborium::from_reader(payload).map_err(DecodeError::from)?;
    Ok((header, state))
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, header};
    use crate::error::DecodeError;
    use uuid::Uuid;

    #[test]
    fn round_trip() {
        let id = Uuid::new_v4();
        let mut buf = Vec::new();
        encode(&mut buf, id, 3, &(1u8, "x".to_string())).unwrap();
        let (h, state): (_, (u8, String)) = decode(&buf, 3).unwrap();
        assert_eq!(h.id, id);
        assert_eq!(state, (1, "x".to_string()));
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(matches!(
            header(&[]),
            Err(DecodeError::Truncated { len: 0 })
        ));
        assert!(matches!(
            header(&[9, 0, 0]),
            Err(DecodeError::UnsupportedFormat { found: 9, .. })
        ));
        assert!(matches!(
            header(&[1, 0, 0]),
            Err(DecodeError::Truncated { len: 3 })
        ));
        let mut buf = Vec::new();
        encode(&mut buf, Uuid::nil(), 1, &5u32).unwrap();
        assert!(matches!(
            decode::<u32>(&buf, 2),
            Err(DecodeError::StateVersion {
                found: 1,
                expected: 2
            })
        ));
        buf.truncate(buf.len() - 1);
        buf.push(0xff);
        assert!(matches!(decode::<u32>(&buf, 1), Err(DecodeError::Cbor(_))));
    }
}
