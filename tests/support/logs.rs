//! What kubelab logs while a test runs, for tests that assert on log lines (or on a secret never
//! reaching them). One process-wide subscriber, installed once, records the events of threads
//! that asked for it — a `#[tokio::test]` runtime has one thread, so that is every task of the
//! kubelab it started. Decided per event (a dynamic filter), never cached per callsite: a
//! per-test `set_default` lost events when another test's thread registered a callsite first.

use std::cell::Cell;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::Layer;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::layer::SubscriberExt;

thread_local! {
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
}

/// Everything recorded by any capturing thread.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static BUFFER: OnceLock<Buffer> = OnceLock::new();

fn buffer() -> &'static Buffer {
    BUFFER.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(dynamic_filter_fn(|_, _| CAPTURING.with(Cell::get)));
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
        buffer
    })
}

/// Records this thread's log events (every level) until dropped.
pub struct LogCapture {
    start: usize,
}

impl LogCapture {
    /// Starts recording on the calling thread.
    pub fn start() -> LogCapture {
        let start = buffer().0.lock().unwrap_or_else(|p| p.into_inner()).len();
        CAPTURING.with(|c| c.set(true));
        LogCapture { start }
    }

    /// What was recorded since [`LogCapture::start`] (lines of tests capturing at the same time
    /// on other threads may be mixed in).
    pub fn text(&self) -> String {
        let bytes = buffer().0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes[self.start.min(bytes.len())..]).into_owned()
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.set(false));
    }
}
