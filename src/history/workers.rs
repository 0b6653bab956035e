//! The background threads of one history backend: the lookup workers that
//! read the store for calls (so a call can stop waiting at its deadline while
//! the read finishes and still fills the cache), the writer, and the poller
//! that picks up contacts other servers wrote into a shared database.
//! All of them stop and are joined by `Backend::shut_down`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::cache::MAX_PER_NUMBER;
use super::store::{Store, StoreError};
use super::Shared;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::{log_notice, log_warning};

/// How many rows the oldest-first read fetches for the `f` option.
pub const OLDEST_LIMIT: usize = 1000;
const WRITE_BATCH: usize = 500;
/// Rows committed this much later than their id suggests are still seen.
const SYNC_OVERLAP: Duration = Duration::from_secs(5);

pub enum JobKind {
    /// Read the newest contacts since `since` into the cache.
    Recent,
    /// Read the oldest contacts since `since` and hand them back.
    Oldest,
}

pub struct Job {
    pub kind: JobKind,
    pub key: NumberKey,
    pub since: i64,
    pub deadline: Instant,
    pub reply: SyncSender<Result<Vec<Contact>, StoreError>>,
}

pub struct Backend {
    jobs: Mutex<Option<SyncSender<Job>>>,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

pub struct BackendSettings {
    pub workers: u32,
    pub query_timeout: Duration,
    pub sync_interval: Option<Duration>,
}

impl Backend {
    pub fn start(store: Arc<dyn Store>, shared: Arc<Shared>, settings: &BackendSettings) -> Backend {
        let (sender, receiver) = mpsc::sync_channel::<Job>(settings.workers as usize * 8);
        let receiver = Arc::new(Mutex::new(receiver));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for index in 0..settings.workers.max(1) {
            let (store, shared, receiver) = (store.clone(), shared.clone(), receiver.clone());
            threads.push(spawn(format!("sticky-lookup-{index}"), move || lookup_worker(&*store, &shared, &receiver)));
        }
        let (writer_store, writer_shared, writer_stop) = (store.clone(), shared.clone(), stop.clone());
        let timeout = settings.query_timeout.max(Duration::from_secs(2));
        threads
            .push(spawn("sticky-writer".into(), move || writer(&*writer_store, &writer_shared, &writer_stop, timeout)));
        if let Some(interval) = settings.sync_interval {
            let (sync_store, sync_shared, sync_stop) = (store.clone(), shared.clone(), stop.clone());
            threads.push(spawn("sticky-sync".into(), move || {
                poller(&*sync_store, &sync_shared, &sync_stop, interval, timeout)
            }));
        }
        Backend { jobs: Mutex::new(Some(sender)), stop, threads: Mutex::new(threads) }
    }

    /// Queues a job; `false` when every worker is busy and the queue is full.
    pub fn submit(&self, job: Job) -> bool {
        self.jobs.lock().as_ref().is_some_and(|jobs| jobs.try_send(job).is_ok())
    }

    /// Stops and joins every thread. Each finishes its current statement
    /// (bounded by the statement and login timeouts) first.
    pub fn shut_down(&self, shared: &Shared) {
        self.stop.store(true, Ordering::SeqCst);
        self.jobs.lock().take();
        shared.pending.wake();
        let threads: Vec<JoinHandle<()>> = self.threads.lock().drain(..).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            // A panic here is logged by the hook and ends only this thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
        })
        .expect("spawning a res_sticky thread")
}

/// Sleeps `duration` unless `stop` is raised meanwhile.
fn pause(stop: &AtomicBool, duration: Duration) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
    }
}

fn lookup_worker(store: &dyn Store, shared: &Shared, jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = match jobs.lock().recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let timeout = job.deadline.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            continue;
        }
        let result = match job.kind {
            JobKind::Recent => store.recent(&job.key, job.since, MAX_PER_NUMBER, timeout).map(|rows| {
                shared.cache.lock().store_read(&job.key, job.since, rows, MAX_PER_NUMBER);
                Vec::new()
            }),
            JobKind::Oldest => store.oldest(&job.key, job.since, OLDEST_LIMIT, timeout),
        };
        match &result {
            Ok(_) => shared.breaker.success(),
            Err(error) => shared.note_failure(&error.to_string()),
        }
        let _ = job.reply.try_send(result);
    }
}

fn writer(store: &dyn Store, shared: &Shared, stop: &AtomicBool, timeout: Duration) {
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let batch = shared.pending.take(WRITE_BATCH, Duration::from_millis(200));
        if batch.is_empty() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            continue;
        }
        match store.insert(&batch, timeout) {
            Ok(()) => {
                shared.pending.done(&batch);
                shared.breaker.success();
                if failing {
                    log_notice!("res_sticky: history database is back; pending contacts are being written");
                    failing = false;
                }
                backoff = Duration::from_millis(100);
            }
            Err(error) => {
                shared.pending.give_back(batch);
                shared.note_failure(&error.to_string());
                if !failing {
                    log_warning!("res_sticky: cannot write contacts ({error}); keeping them and retrying");
                    failing = true;
                }
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                pause(stop, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Follows the table's ids and adds contacts other servers wrote to the
/// numbers this server has cached.
fn poller(store: &dyn Store, shared: &Shared, stop: &AtomicBool, interval: Duration, timeout: Duration) {
    let mut seen_max: Option<i64> = None;
    let mut marks: VecDeque<(Instant, i64)> = VecDeque::new();
    while !stop.load(Ordering::SeqCst) {
        pause(stop, interval);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(max) = seen_max else {
            match store.last_id(timeout) {
                Ok(last) => {
                    seen_max = Some(last);
                    shared.cache.lock().forget_coverage();
                    shared.breaker.success();
                }
                Err(error) => shared.note_failure(&error.to_string()),
            }
            continue;
        };
        // Re-read what was newest a few seconds ago: a row whose transaction
        // committed late carries an id below rows already seen.
        while marks.front().is_some_and(|(at, _)| at.elapsed() > SYNC_OVERLAP) && marks.len() > 1 {
            marks.pop_front();
        }
        let from = marks.front().map(|(_, id)| *id).unwrap_or(max).min(max);
        match store.rows_after(from, 5_000, timeout) {
            Ok(rows) => {
                shared.breaker.success();
                let newest = rows.iter().map(|(id, _)| *id).max().unwrap_or(max).max(max);
                let node = shared.node();
                let mut cache = shared.cache.lock();
                for (_, contact) in rows {
                    if contact.node != node {
                        shared.remember_agent(&contact);
                        cache.merge_remote(contact);
                    }
                }
                drop(cache);
                seen_max = Some(newest);
                marks.push_back((Instant::now(), newest));
            }
            Err(error) => shared.note_failure(&error.to_string()),
        }
    }
}
