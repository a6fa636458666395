//! [`Client`]: the HTTP [`Transport`] of a [`Remote`], on reqwest (plain HTTP, no TLS).
//!
//! A call is `POST {base}/actors/{type}/{key}/{action}` with the arguments as a JSON body,
//! each path segment percent-encoded so that the server's router decodes it back to exactly
//! what was sent; a `200` body is the reply, any other answer an [`ErrorBody`]. Everything
//! read from the server is bounded: the answer by `max_answer_bytes`, the error message kept
//! to its first 256 bytes, a body that does not decode quoted to 64.

use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

use crate::actor::Actor;
use crate::error::{ClientError, ErrorBody, RemoteError};
use crate::key::ActorKey;
use crate::limits::{prefix, quote};
use crate::remote::{Remote, RemoteCall, Transport};

/// The longest bearer token, as the server accepts it.
const MAX_TOKEN_BYTES: usize = 4096;
/// The longest answer read by default: well above the default 4 MiB limit on a state, which
/// bounds most replies.
const DEFAULT_MAX_ANSWER_BYTES: usize = 64 << 20;
/// How much of a server's error message is kept.
const MAX_MESSAGE_BYTES: usize = 256;

/// A client of an actor server (`actor_core::http::Server`): it hands out [`Remote`]s, whose
/// typed methods (`counter.increment(5).await?`) call the server's actors as a
/// [`Handle`](crate::Handle)'s call local ones.
///
/// ```no_run
/// use std::time::Duration;
/// use actor_core::http::Client;
///
/// # fn demo() -> Result<(), actor_core::http::ClientError> {
/// let client = Client::new("http://127.0.0.1:8080")?
///     .bearer_token("a-long-random-token")?
///     .timeout(Duration::from_secs(5));
/// # Ok(()) }
/// ```
///
/// Cloning is cheap, and every `Remote` it makes shares its connection pool. It speaks plain
/// HTTP: reach a server beyond a trusted network through a TLS-terminating proxy. Proxies
/// named by the `HTTP_PROXY`/`NO_PROXY` environment variables are used.
#[derive(Clone, Debug)]
pub struct Client {
    /// Shared with every `Remote` made from this client; the builder methods copy it when
    /// a `Remote` holds it already.
    http: Arc<Http>,
}

impl Client {
    /// A client of the server at `base_url`: `http://host:port`, optionally with a path
    /// prefix under which the server's routes are mounted (`http://host/api`).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let bad = |reason| ClientError::BadUrl {
            url: quote(base_url),
            reason,
        };
        let url = reqwest::Url::parse(base_url).map_err(|_| bad("not a URL"))?;
        if url.scheme() != "http" {
            return Err(bad(
                "only http:// is supported (no TLS in this client; put a TLS proxy in front)",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("a server address has no query or fragment"));
        }
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| ClientError::Build(Box::new(e)))?;
        Ok(Self {
            http: Arc::new(Http {
                client,
                base: url.as_str().trim_end_matches('/').to_owned(),
                token: None,
                timeout: None,
                max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            }),
        })
    }

    /// Sends `Authorization: Bearer <token>` with every call, for a server whose actor routes
    /// need one. A token must be 1 to 4096 visible ASCII characters, as the server requires.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Result<Self, ClientError> {
        let token = token.into();
        if token.is_empty()
            || token.len() > MAX_TOKEN_BYTES
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ClientError::BadToken {
                max: MAX_TOKEN_BYTES,
            });
        }
        Arc::make_mut(&mut self.http).token = Some(token);
        Ok(self)
    }

    /// Gives up on a call with no complete answer after `after` (connecting included), with
    /// [`AskError::Timeout`](crate::AskError::Timeout): the action is not withdrawn and may
    /// still complete on the server. By default a call waits as long as the server does
    /// (its own request time limit answers `504`).
    #[must_use]
    pub fn timeout(mut self, after: Duration) -> Self {
        Arc::make_mut(&mut self.http).timeout = Some(after);
        self
    }

    /// The longest answer read, in bytes (64 MiB by default); a longer one fails the call
    /// with [`RemoteError::TooLarge`] without being read to the end.
    #[must_use]
    pub fn max_answer_bytes(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.http).max_answer_bytes = limit;
        self
    }

    /// The actor of type `A` at `key` on this server. Nothing is sent until it is called;
    /// the server creates the actor at its first call, as `get_or_create` does.
    pub fn actor<A: Actor>(&self, key: impl Into<ActorKey>) -> Remote<A> {
        let transport: Arc<dyn Transport> = self.http.clone();
        Remote::new(transport, key)
    }
}

/// The transport itself: reqwest's pool and the settings every call uses.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    /// `http://host:port[/prefix]`, without a trailing `/`.
    base: String,
    token: Option<String>,
    timeout: Option<Duration>,
    max_answer_bytes: usize,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the token.
        f.debug_struct("Http")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .field("max_answer_bytes", &self.max_answer_bytes)
            .finish_non_exhaustive()
    }
}

impl Transport for Http {
    fn call<'a>(
        &'a self,
        call: RemoteCall<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, RemoteError>> + Send + 'a>> {
        Box::pin(self.send(call))
    }
}

impl Http {
    /// One call: the request, then the answer, read within the limit.
    async fn send(&self, call: RemoteCall<'_>) -> Result<Vec<u8>, RemoteError> {
        let key = call.key.as_str();
        // An HTTP client resolves `.` and `..` segments away (`%2E` included), and the
        // router has no route with an empty segment.
        if matches!(key, "" | "." | "..") {
            return Err(RemoteError::Unaddressable {
                key: key.to_owned(),
            });
        }
        let url = format!(
            "{}/actors/{}/{}/{}",
            self.base,
            segment(call.actor),
            segment(key),
            segment(call.action)
        );
        let mut request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(call.args.to_vec());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(after) = self.timeout {
            request = request.timeout(after);
        }
        let mut response = request.send().await.map_err(|e| self.failed(e))?;
        let status = response.status().as_u16();
        let body = self.read(&mut response).await?;
        if response.status().is_success() {
            return Ok(body);
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { mut error }) => {
                error.message = prefix(&error.message, MAX_MESSAGE_BYTES);
                Err(RemoteError::Status {
                    status,
                    detail: Box::new(error),
                })
            }
            Err(e) => Err(RemoteError::decode(status, &body, e)),
        }
    }

    /// The answer's body, refused past `max_answer_bytes` (before reading, when its length
    /// is declared).
    async fn read(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, RemoteError> {
        let limit = self.max_answer_bytes;
        let too_large = RemoteError::TooLarge { limit };
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failed(e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// A request that failed in reqwest, by whether it reached the server.
    fn failed(&self, error: reqwest::Error) -> RemoteError {
        if error.is_timeout() {
            RemoteError::Timeout {
                after: self.timeout.unwrap_or_default(),
            }
        } else if error.is_connect() {
            RemoteError::Connect(Box::new(error))
        } else {
            RemoteError::Request(Box::new(error))
        }
    }
}

/// `text` as one URL path segment: every byte but the unreserved ones (letters, digits,
/// `-._~`) percent-encoded, so `/`, `\`, `%`, `?`, `#` and non-ASCII arrive as they were
/// (the server's router decodes each segment once).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn segments_encode_everything_but_unreserved_bytes() {
        assert_eq!(segment("room-42"), "room-42");
        assert_eq!(segment(r"shop/berlin\/x"), "shop%2Fberlin%5C%2Fx");
        assert_eq!(segment("a b?c#d%e"), "a%20b%3Fc%23d%25e");
        assert_eq!(segment("zürich"), "z%C3%BCrich");
        assert_eq!(segment("a.b_c~"), "a.b_c~");
    }
}
