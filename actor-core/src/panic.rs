//! Catching panics in user code: actions and hooks (futures), and the state's `Serialize`,
//! `Deserialize`, `create_state` and `migrate` (plain calls). A caught panic becomes a typed
//! error for the one call it hurt; the actor and the system go on.
//!
//! Rust's panic hook runs before any catch, so by default every caught panic is still printed
//! to stderr (with a backtrace under `RUST_BACKTRACE=1`). [`quiet_caught_panics`] installs a
//! hook that leaves out the panics this crate catches; they are logged through `tracing`.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    /// How many catches are active on this thread: a panic raised while it is non-zero is
    /// about to be caught by this crate.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` with this thread marked as catching.
fn catching<T>(f: impl FnOnce() -> T) -> T {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
        }
    }
    CATCHING.with(|c| c.set(c.get() + 1));
    let _unmark = Unmark;
    f()
}

/// Calls `f`, turning a panic into its message.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catching(|| catch_unwind(AssertUnwindSafe(f))).map_err(|payload| message(&*payload))
}

/// The message of a panic payload, when it was a string.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}

/// Polls a future, turning a panic inside it into an `Err` carrying the payload. It takes the
/// future pinned on the caller's stack, so catching costs no allocation.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catching(|| catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx)))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Keeps the panics this crate catches (in actions, hooks, a state's `Serialize` or
/// `Deserialize`, key-value update functions, an HTTP worker) out of stderr.
///
/// By default Rust's panic hook prints every panic, caught or not, so a panic storm in one
/// actor fills stderr (with a full backtrace each under `RUST_BACKTRACE=1`) although each
/// panic only failed its own call. This installs a panic hook, for the whole process, that
/// says nothing about panics raised while this crate is catching them, and hands every other
/// panic to the hook that was installed before. Caught panics are still logged through
/// `tracing` at `ERROR` (`"action panicked"`, with the actor and the message) and reach the
/// caller as [`AskError::Panicked`](crate::AskError::Panicked).
///
/// Call it once at startup, after installing any panic hook of your own; later calls do
/// nothing.
pub fn quiet_caught_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}
