//! The default [`Runtime`]: handlers run on the ambient tokio runtime.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use zttp_service::Runtime;

/// Spawns onto a tokio runtime and sleeps with tokio timers.
///
/// zttp-zmq's IO thread is runtime-free; this only decides where handlers and connection
/// loops run. Pass any other [`Runtime`] to [`Server::serve_with`](crate::Server::serve_with).
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The tokio runtime the caller runs on.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn current() -> Self {
        TokioRuntime {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// A given tokio runtime.
    pub fn from_handle(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime { handle }
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.handle.spawn(future);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let handle = self.handle.clone();
        // Entered so that the timer registers with this runtime whoever polls it.
        let _guard = handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}
