//! [`Limits`]: every bound the server puts on what a client controls.

use std::time::Duration;

/// Bounds on what a client controls, each with a default. Set them on the builder with
/// [`ServerBuilder::limits`](crate::http::ServerBuilder::limits):
///
/// ```
/// use actor_core::http::Limits;
/// use std::time::Duration;
///
/// let limits = Limits::default()
///     .max_body_bytes(64 * 1024)
///     .request_timeout(Duration::from_secs(5));
/// assert_eq!(limits.max_connections, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest request body, in bytes (the arguments of an action, a worker's request).
    /// A larger one is refused with 413 (`body_too_large`), before it is read when it says
    /// its length. Default: 1 MiB.
    pub max_body_bytes: usize,
    /// The largest request head (request line and headers), in bytes. A larger one is
    /// refused with a bare 431 and the connection is closed. Default: 16 KiB.
    pub max_header_bytes: usize,
    /// The most headers a request may have. More are refused with a bare 431. Default: 64.
    pub max_headers: usize,
    /// How long a client may take to send a request head, counted from when the server
    /// starts waiting for one (so also how long a kept-alive connection may sit idle). A
    /// client that is slower is disconnected without an answer. Default: 10 s.
    pub header_read_timeout: Duration,
    /// How long one request may take, from its head to its response (reading the body
    /// included). A slower one is answered 504 (`timeout`). An action already handed to its
    /// actor is not withdrawn: it may still complete and become durable. Default: 30 s.
    pub request_timeout: Duration,
    /// The most connections served at once. At the limit the server stops accepting until
    /// one closes; new ones wait in the operating system's backlog. Default: 1024.
    pub max_connections: usize,
    /// The largest WebSocket message (and frame) a client may send, in bytes. A larger one
    /// closes its socket with code 1009 (`on_close` runs, and the socket's changes are
    /// saved). Default: 1 MiB. Open sockets also count against
    /// [`max_connections`](Limits::max_connections), and a client that does not take a
    /// message the server sends within [`request_timeout`](Limits::request_timeout) is
    /// dropped.
    pub max_websocket_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_header_bytes: 16 << 10,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_websocket_message_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// Sets [`max_body_bytes`](Limits::max_body_bytes).
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`max_header_bytes`](Limits::max_header_bytes) (at least 1 KiB).
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.max(1024);
        self
    }

    /// Sets [`max_headers`](Limits::max_headers) (at least 1).
    #[must_use]
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count.max(1);
        self
    }

    /// Sets [`header_read_timeout`](Limits::header_read_timeout).
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`request_timeout`](Limits::request_timeout).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Limits::max_connections) (at least 1).
    #[must_use]
    pub fn max_connections(mut self, count: usize) -> Self {
        self.max_connections = count.max(1);
        self
    }

    /// Sets [`max_websocket_message_bytes`](Limits::max_websocket_message_bytes).
    #[must_use]
    pub fn max_websocket_message_bytes(mut self, bytes: usize) -> Self {
        self.max_websocket_message_bytes = bytes;
        self
    }
}
