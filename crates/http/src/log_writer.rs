//! The server's log output: lines are appended to a bounded in-memory buffer and written by a
//! thread of their own, so that a worker never waits for standard output (a slow terminal, a
//! full pipe, a stalled log collector). When the buffer is full a line is dropped and
//! counted, never waited for; the writer then logs how many were dropped.
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Bytes the buffer holds before lines are dropped: about 20,000 request lines, several
/// seconds of output at the highest request rate this server reaches on two cores.
pub const DEFAULT_CAPACITY: usize = 4 * 1024 * 1024;

/// How long a line may wait in the buffer before it is written (the writer is woken earlier
/// when [`WAKE_AT`] bytes wait). Waking it for every line would cost more than the line.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// The writer thread is woken when this many bytes wait (or half the buffer, if smaller):
/// batches of about 250 request lines, small enough that the buffer being filled and the batch
/// being written stay in the CPU's cache instead of sweeping megabytes through it at a high
/// request rate (at 60,000 lines/s, 50 ms of lines are 780 KB).
pub const WAKE_AT: usize = 64 * 1024;

/// Whether an append that took the buffer from `before` to `after` bytes wakes the writer: it
/// crossed `wake_at` (once per batch, not for every line after it).
fn crossed(before: usize, after: usize, wake_at: usize) -> bool {
    before < wake_at && after >= wake_at
}

/// How a dropped-lines notice is written: `(dropped, output)`; the JSON or plain-text form of
/// the log's format, so that the notice reads like the lines around it.
pub type DroppedNotice = fn(u64, &mut Vec<u8>);

struct Pending {
    bytes: Vec<u8>,
    /// Lines dropped since the writer last reported.
    dropped: u64,
    stop: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer thread: `wake_at` bytes wait, a flush or stop is asked for.
    wake: Condvar,
    capacity: usize,
    /// Bytes waiting that wake the writer: [`WAKE_AT`] or half the capacity.
    wake_at: usize,
    /// Every line dropped since start.
    dropped_total: AtomicU64,
    /// The output, locked while a batch is taken and written, so that batches go out in order.
    out: Mutex<Output>,
}

struct Output {
    sink: Box<dyn Write + Send>,
    /// The batch being written; swapped with the pending buffer, so neither is reallocated.
    spare: Vec<u8>,
    notice: DroppedNotice,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain bytes behind: keep logging.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A handle on the buffer and its writer thread. Cloning it is cheap; every clone appends to
/// the same buffer.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

impl LogWriter {
    /// Starts the writer thread on `sink` with a buffer of `capacity` bytes; `notice` writes
    /// the line that reports dropped lines.
    ///
    /// # Panics
    /// When the thread cannot be started (start-up).
    pub fn spawn(sink: Box<dyn Write + Send>, capacity: usize, notice: DroppedNotice) -> LogWriter {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending { bytes: Vec::with_capacity(capacity), dropped: 0, stop: false }),
            wake: Condvar::new(),
            capacity,
            wake_at: WAKE_AT.min(capacity / 2),
            dropped_total: AtomicU64::new(0),
            out: Mutex::new(Output { sink, spare: Vec::with_capacity(capacity), notice }),
        });
        let writer = LogWriter { shared };
        let thread = writer.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || thread.run())
            .expect("cannot start the log writer thread");
        writer
    }

    /// Appends one or more whole lines, unless they do not fit: then they are dropped and
    /// counted. Never waits for the output. Returns whether the bytes were kept.
    pub fn append(&self, line: &[u8]) -> bool {
        let shared = &*self.shared;
        let mut pending = lock(&shared.pending);
        let len = pending.bytes.len();
        if len + line.len() > shared.capacity {
            pending.dropped += 1;
            drop(pending);
            shared.dropped_total.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        pending.bytes.extend_from_slice(line);
        if crossed(len, pending.bytes.len(), shared.wake_at) {
            shared.wake.notify_one();
        }
        true
    }

    /// Lines dropped since start because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// Writes what is buffered now, on the calling thread, and flushes the output.
    pub fn flush(&self) {
        self.write_batch();
    }

    /// Writes the rest and stops the writer thread (the handle then writes on the calling
    /// thread only, through [`LogWriter::flush`]).
    pub fn stop(&self) {
        lock(&self.shared.pending).stop = true;
        self.shared.wake.notify_one();
        self.flush();
    }

    /// Takes the pending bytes and the dropped count, then writes them; the output's lock is
    /// held throughout so that batches are written in the order they were taken.
    fn write_batch(&self) {
        let mut out = lock(&self.shared.out);
        let out = &mut *out;
        let dropped = {
            let mut pending = lock(&self.shared.pending);
            std::mem::swap(&mut pending.bytes, &mut out.spare);
            std::mem::take(&mut pending.dropped)
        };
        if dropped > 0 {
            (out.notice)(dropped, &mut out.spare);
        }
        if !out.spare.is_empty() {
            // Nowhere to report a failed write to: the bytes are lost, as a full buffer's are.
            let _ = out.sink.write_all(&out.spare);
            let _ = out.sink.flush();
            out.spare.clear();
        }
    }

    fn run(self) {
        loop {
            {
                let pending = lock(&self.shared.pending);
                if pending.stop {
                    return;
                }
                let (pending, _) = self
                    .shared
                    .wake
                    .wait_timeout(pending, FLUSH_INTERVAL)
                    .unwrap_or_else(PoisonError::into_inner);
                if pending.stop {
                    return;
                }
                if pending.bytes.is_empty() && pending.dropped == 0 {
                    continue;
                }
            }
            self.write_batch();
        }
    }
}

/// A [`tracing_subscriber`] writer appending each formatted event (one `write_all` of whole
/// lines) to a [`LogWriter`].
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriterLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriterLine(self)
    }
}

/// See [`LogWriter`]'s `MakeWriter`.
pub struct LogWriterLine<'a>(&'a LogWriter);

impl Write for LogWriterLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A dropped line is not an error of the caller's: it is counted and reported.
        self.0.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;

    /// An output that blocks every write until the test lets it go, and keeps what it got.
    struct Stalled {
        entered: mpsc::Sender<()>,
        release: Arc<(Mutex<bool>, Condvar)>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let (released, cv) = &*self.release;
            let mut r = lock(released);
            while !*r {
                r = cv.wait(r).expect("not poisoned");
            }
            lock(&self.got).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn notice(dropped: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("dropped {dropped}\n").as_bytes());
    }

    #[test]
    fn a_full_buffer_drops_lines_and_counts_them_instead_of_waiting() {
        let (entered_tx, entered) = mpsc::channel();
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Stalled { entered: entered_tx, release: Arc::clone(&release), got: Arc::clone(&got) };
        let line = b"0123456789abcdef\n"; // 17 bytes
        let writer = LogWriter::spawn(Box::new(sink), 10 * line.len(), notice);

        // The writer thread takes the first line and is stuck writing it.
        assert!(writer.append(b"first\n"));
        entered.recv_timeout(Duration::from_secs(5)).expect("the writer thread writes within 5 s");

        // Ten lines fit in the buffer; the next 90 are dropped, without waiting for the output.
        let started = Instant::now();
        let kept = (0..100).filter(|_| writer.append(line)).count();
        assert!(started.elapsed() < Duration::from_secs(1), "appending waited for the output");
        assert_eq!(kept, 10);
        assert_eq!(writer.dropped(), 90);

        // Once the output moves again, the kept lines are written, then the count.
        *lock(&release.0) = true;
        release.1.notify_all();
        writer.stop();
        let text = String::from_utf8(lock(&got).clone()).expect("UTF-8");
        assert_eq!(text, format!("first\n{}dropped 90\n", "0123456789abcdef\n".repeat(10)));

        // Room again: lines are kept, and no count is repeated.
        assert!(writer.append(b"after\n"));
        writer.flush();
        let text = String::from_utf8(lock(&got).clone()).expect("UTF-8");
        assert!(text.ends_with("dropped 90\nafter\n"), "{text}");
        assert_eq!(writer.dropped(), 90);
    }

    #[test]
    fn the_writer_is_woken_once_per_batch_of_wake_at_bytes() {
        assert!(crossed(WAKE_AT - 1, WAKE_AT, WAKE_AT));
        assert!(crossed(0, WAKE_AT + 300, WAKE_AT));
        assert!(!crossed(WAKE_AT, WAKE_AT + 300, WAKE_AT), "not again for the lines after");
        assert!(!crossed(100, 400, WAKE_AT));
    }

    #[test]
    fn lines_are_written_within_the_flush_interval_without_a_flush() {
        let got = Arc::new(Mutex::new(Vec::new()));
        struct Collect(Arc<Mutex<Vec<u8>>>);
        impl Write for Collect {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                lock(&self.0).extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let writer = LogWriter::spawn(Box::new(Collect(Arc::clone(&got))), 1024, notice);
        assert!(writer.append(b"one\n"));
        assert!(writer.append(b"two\n"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while lock(&got).len() < 8 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*lock(&got), b"one\ntwo\n");
        assert_eq!(writer.dropped(), 0);
        writer.stop();
    }
}
