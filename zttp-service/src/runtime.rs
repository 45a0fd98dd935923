//! The seam between the drive loop and an async runtime.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What the drive loop needs from an async runtime: spawning, sleeping and the time.
///
/// Each adapter implements this in a few lines (`zttp-tokio`'s `TokioRuntime`,
/// `zttp-async-std`'s `AsyncStdRuntime`). The loop reads the clock only through
/// [`now`](Runtime::now), so a runtime with a virtual clock makes timeouts testable.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Runs `future` to completion in the background. [`serve`](crate::serve)
    /// runs each connection this way, and the drive loop each HTTP/2 stream's
    /// handler (so one busy handler cannot stall its connection).
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>);

    /// A future that completes after `duration`: not before [`now`](Runtime::now)
    /// has reached the instant it was created plus `duration`, and it wakes the
    /// task that polled it last once it does. The drive loop relies on both: it
    /// does not poll a timer again before that instant while its task's waker
    /// is unchanged.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    /// The current instant on this runtime's clock.
    fn now(&self) -> Instant;
}
