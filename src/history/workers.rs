//! The background threads of one history backend: the store workers that
//! read the store for calls and commands (so a caller can stop waiting at
//! its deadline while the read finishes and still fills the cache), the
//! writer, and the poller that picks up contacts other servers wrote into a
//! shared database. `Backend::shut_down` stops them and waits for them with
//! a deadline.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::gaps::Gaps;
use super::journal::Journal;
use super::store::{Store, StoreError};
use super::Shared;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::{log_error, log_notice, log_warning};

/// How many contacts one store write carries.
pub const WRITE_BATCH: usize = 500;
/// Rows committed this much later than their id suggests are still seen
/// (the sync poll's gaps, the owner follower's re-read).
const SYNC_OVERLAP: Duration = Duration::from_secs(5);
/// Polls failing this long (at least three intervals) make the sync poller
/// check whether the table's ids went back.
const FOLLOW_AFRESH_AFTER: Duration = Duration::from_secs(2);

/// Work for a store worker: runs against the store with the time left, and
/// says whether the store answered (for the breaker).
pub type Work = Box<dyn FnOnce(&dyn Store, &Shared, Duration) -> bool + Send>;

pub struct Job {
    pub deadline: Instant,
    /// When the job was handed over, for the hand-off's time.
    pub submitted: Instant,
    pub work: Work,
}

pub struct BackendSettings {
    pub workers: u32,
    pub query_timeout: Duration,
    pub sync_interval: Option<Duration>,
    /// Contacts older than this are pruned; `None`: kept.
    pub retention: Option<Duration>,
}

/// How often old contacts are pruned, and how many per statement.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const PRUNE_BATCH: usize = 1000;

/// How long a statement of the writer, the sync poller and the pruner may
/// take: no call waits for them, so a short `query_timeout` does not apply.
/// Lookup workers take each job's own deadline instead.
pub fn background_timeout(query_timeout: Duration) -> Duration {
    query_timeout.max(Duration::from_secs(2))
}

/// Threads started together and waited for together, each by name.
#[derive(Default)]
pub struct Crew {
    threads: Mutex<Vec<(String, JoinHandle<()>)>>,
}

impl Crew {
    /// Starts `body` on a thread named `name`. A panic is logged (the panic
    /// hook has the details) and the body starts again after a second,
    /// unless `stop` is raised: a failing writer must not be gone for good.
    pub fn spawn(&self, name: String, stop: Arc<AtomicBool>, body: impl Fn() + Send + 'static) {
        let thread_name = name.clone();
        let spawned = thread::Builder::new().name(name.clone()).spawn(move || loop {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&body));
            if result.is_ok() || stop.load(Ordering::SeqCst) {
                return;
            }
            log_error!("res_sticky: thread {thread_name} failed (see above); starting it again");
            pause(&stop, Duration::from_secs(1));
            if stop.load(Ordering::SeqCst) {
                return;
            }
        });
        match spawned {
            Ok(handle) => {
                // Threads that ended are joined now, so that a crew started
                // again and again (a retiring backend per reload) stays small.
                let mut threads = self.threads.lock();
                let (ended, running): (Vec<_>, Vec<_>) =
                    threads.drain(..).partition(|(_, handle)| handle.is_finished());
                *threads = running;
                threads.push((name, handle));
                drop(threads);
                for (_, handle) in ended {
                    let _ = handle.join();
                }
            }
            // The system is out of threads or memory: say so and go on
            // without this one rather than take Asterisk down.
            Err(error) => log_error!("res_sticky: cannot start the thread {name}: {error}"),
        }
    }

    /// Threads started and not yet joined.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.threads.lock().len()
    }

    /// Waits until every thread has ended or `deadline` passes; joins those
    /// that ended and names the others (they end when the database driver
    /// gives up the call they are in, bounded by its timeouts).
    pub fn wait(&self, deadline: Instant) -> Vec<String> {
        let threads: Vec<(String, JoinHandle<()>)> = self.threads.lock().drain(..).collect();
        while Instant::now() < deadline && threads.iter().any(|(_, handle)| !handle.is_finished()) {
            thread::sleep(Duration::from_millis(5));
        }
        let mut busy = Vec::new();
        for (name, handle) in threads {
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                busy.push(name);
            }
        }
        busy
    }
}

pub struct Backend {
    jobs: Mutex<Option<SyncSender<Job>>>,
    stop: Arc<AtomicBool>,
    crew: Crew,
}

impl Backend {
    pub fn start(
        store: Arc<dyn Store>,
        shared: Arc<Shared>,
        journal: Arc<Journal>,
        settings: &BackendSettings,
    ) -> Backend {
        let (sender, receiver) = mpsc::sync_channel::<Job>(settings.workers as usize * 8);
        let receiver = Arc::new(Mutex::new(receiver));
        let stop = Arc::new(AtomicBool::new(false));
        let crew = Crew::default();
        for index in 0..settings.workers.max(1) {
            let (store, shared, receiver) = (store.clone(), shared.clone(), receiver.clone());
            crew.spawn(format!("sticky-store-{index}"), stop.clone(), move || {
                store_worker(&*store, &shared, &receiver)
            });
        }
        let timeout = background_timeout(settings.query_timeout);
        {
            let (store, shared, stop_flag, journal) = (store.clone(), shared.clone(), stop.clone(), journal.clone());
            crew.spawn("sticky-writer".into(), stop.clone(), move || {
                writer(&*store, &shared, &journal, &stop_flag, timeout)
            });
        }
        if let Some(interval) = settings.sync_interval {
            let (store, shared, stop_flag, journal) = (store.clone(), shared.clone(), stop.clone(), journal.clone());
            crew.spawn("sticky-sync".into(), stop.clone(), move || {
                poller(&*store, &shared, &journal, &stop_flag, interval, timeout)
            });
        }
        {
            let (store, shared, stop_flag, interval) =
                (store.clone(), shared.clone(), stop.clone(), settings.sync_interval);
            crew.spawn("sticky-owners".into(), stop.clone(), move || {
                owner_follower(&*store, &shared, &stop_flag, interval, timeout)
            });
        }
        if let Some(retention) = settings.retention {
            let (store, shared, stop_flag) = (store.clone(), shared.clone(), stop.clone());
            crew.spawn("sticky-prune".into(), stop.clone(), move || {
                pruner(&*store, &shared, &stop_flag, retention, timeout)
            });
        }
        Backend { jobs: Mutex::new(Some(sender)), stop, crew }
    }

    /// Queues a job; `false` when every worker is busy and the queue is full.
    pub fn submit(&self, job: Job) -> bool {
        self.jobs.lock().as_ref().is_some_and(|jobs| jobs.try_send(job).is_ok())
    }

    /// Stops every thread: each finishes the statement it is in (bounded by
    /// the statement and login timeouts) and the writer stops between
    /// batches. Waits until `deadline`; names the threads still busy then.
    pub fn shut_down(&self, shared: &Shared, deadline: Instant) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.jobs.lock().take();
        shared.pending.wake();
        self.crew.wait(deadline)
    }
}

/// Sleeps `duration` unless `stop` is raised meanwhile.
pub fn pause(stop: &AtomicBool, duration: Duration) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
        thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
    }
}

fn store_worker(store: &dyn Store, shared: &Shared, jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = match jobs.lock().recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        shared.counters.to_worker.record(job.submitted.elapsed());
        let timeout = job.deadline.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            continue;
        }
        if (job.work)(store, shared, timeout) {
            shared.note_success();
        }
    }
}

fn writer(store: &dyn Store, shared: &Shared, journal: &Journal, stop: &AtomicBool, timeout: Duration) {
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    // Forgotten numbers whose rows may be in the store after the forgetting
    // (a batch written just before, or written and given back by a panic)
    // and whose erase has not gone through yet: tried again on every round,
    // while writing goes on (newer contacts are never erased by them).
    let mut unerased: Vec<(NumberKey, i64)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if !unerased.is_empty() {
            unerased.retain(|(key, at)| store.forget(key, *at, timeout).is_err());
            if !unerased.is_empty() {
                shared.note_failure("cannot erase a forgotten number's contacts");
            }
        }
        let batch = shared.pending.take(WRITE_BATCH, Duration::from_millis(200));
        if batch.is_empty() {
            read_back(shared, journal);
            continue;
        }
        // From here until it is confirmed or given back, the batch is held:
        // should anything panic on the way (the store, a driver dropping a
        // link), it goes back to the queue on unwinding, never lost track of.
        let mut held = Held { pending: &shared.pending, batch: Some(batch) };
        // A number forgotten while its contacts waited (here, or on another
        // server while this one could not reach the store): not written, and
        // erased in case an earlier try wrote them before a panic.
        shared.apply_notes(store, journal, timeout);
        let (gone, kept): (Vec<_>, Vec<_>) =
            held.release().into_iter().partition(|(contact, _)| shared.is_forgotten(contact));
        held.batch = Some(kept);
        if !gone.is_empty() {
            for (contact, _) in &gone {
                erase_later(shared, &mut unerased, &contact.number);
            }
            shared.pending.discard(&gone);
            journal.confirm(gone.iter().filter_map(|(_, ticket)| *ticket));
        }
        let contacts: Vec<_> = held.contacts();
        if contacts.is_empty() {
            continue;
        }
        // Contacts whose values the store refuses are set aside, so that
        // they do not block every write after them.
        match insert_all(store, &contacts, timeout) {
            Ok(refused) => {
                if !refused.is_empty() {
                    set_aside(shared, &mut held, &contacts, &refused);
                }
                // Forgotten (here, or on another server, whichever thread
                // read the note) while this batch was on its way: erase
                // what it wrote again.
                shared.apply_notes(store, journal, timeout);
                for contact in contacts.iter().filter(|contact| shared.is_forgotten(contact)) {
                    erase_later(shared, &mut unerased, &contact.number);
                }
                unerased.retain(|(key, at)| store.forget(key, *at, timeout).is_err());
                let batch = held.release();
                shared.pending.done(&batch);
                journal.confirm(batch.iter().filter_map(|(_, ticket)| *ticket));
                shared.note_success();
                // Contacts left to the journal come back as soon as there is
                // room, not only when the queue runs dry.
                if shared.pending.room() >= WRITE_BATCH * 4 && journal.has_spilled() {
                    read_back(shared, journal);
                }
                if failing {
                    log_notice!("res_sticky: history database is back; pending contacts are being written");
                    failing = false;
                }
                backoff = Duration::from_millis(100);
            }
            Err(error) => {
                shared.pending.give_back(held.release());
                shared.note_failure(&error.to_string());
                if !failing {
                    log_warning!("res_sticky: cannot write contacts ({error}); keeping them and retrying");
                    failing = true;
                }
                pause(stop, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Notes a forgotten number's rows for erasing (once per number).
fn erase_later(shared: &Shared, unerased: &mut Vec<(NumberKey, i64)>, key: &NumberKey) {
    if let Some(at) = shared.forgotten_at(key) {
        match unerased.iter_mut().find(|(known, _)| known == key) {
            Some((_, known_at)) => *known_at = (*known_at).max(at),
            None => unerased.push((key.clone(), at)),
        }
    }
}

/// Inserts the contacts; the indices of those whose values the store
/// refuses (found by halving the batch: a handful of statements for one bad
/// contact among hundreds), all others written. Any other error: the whole
/// batch is to be written again (a contact stored already is skipped).
fn insert_all(store: &dyn Store, contacts: &[Contact], timeout: Duration) -> Result<Vec<usize>, StoreError> {
    match store.insert(contacts, timeout) {
        Ok(()) => Ok(Vec::new()),
        Err(StoreError::Rejected(_)) if contacts.len() == 1 => Ok(vec![0]),
        Err(StoreError::Rejected(_)) => {
            let half = contacts.len() / 2;
            let mut refused = insert_all(store, &contacts[..half], timeout)?;
            refused.extend(insert_all(store, &contacts[half..], timeout)?.into_iter().map(|i| i + half));
            Ok(refused)
        }
        Err(error) => Err(error),
    }
}

/// Takes the refused contacts out of a held batch. One with a journal
/// record is set aside: its record stays (read back, and tried once more,
/// at the next start); one without (the journal was full) can never be
/// written and is counted lost. Both are logged.
fn set_aside(shared: &Shared, held: &mut Held<'_>, contacts: &[Contact], refused: &[usize]) {
    let (aside, kept): (Vec<_>, Vec<_>) =
        held.release().into_iter().enumerate().partition(|(index, _)| refused.contains(index));
    held.batch = Some(kept.into_iter().map(|(_, waiting)| waiting).collect());
    let aside: Vec<_> = aside.into_iter().map(|(_, waiting)| waiting).collect();
    shared.pending.discard(&aside);
    for (index, (_, ticket)) in refused.iter().zip(&aside) {
        let contact = &contacts[*index];
        let kept = if ticket.is_some() {
            shared.counters.set_aside.fetch_add(1, Ordering::Relaxed);
            "kept in the journal for the next start"
        } else {
            shared.counters.lost.fetch_add(1, Ordering::Relaxed);
            "not in the journal (it was full): lost"
        };
        log_error!(
            "res_sticky: the history database refuses the contact of {} with agent {} (node {}); {kept}; the \
             contacts after it are written",
            contact.number.as_str(),
            crate::text::shown(&contact.agent.id),
            crate::text::shown(&contact.node)
        );
    }
}

/// A batch taken from the queue, given back if dropped unreleased.
struct Held<'p> {
    pending: &'p super::pending::Pending,
    batch: Option<Vec<super::pending::Waiting>>,
}

impl Held<'_> {
    /// Takes the batch out: from then on it is the caller's to settle.
    fn release(&mut self) -> Vec<super::pending::Waiting> {
        self.batch.take().unwrap_or_default()
    }

    fn contacts(&self) -> Vec<Contact> {
        self.batch.iter().flatten().map(|(contact, _)| contact.clone()).collect()
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            self.pending.give_back(batch);
        }
    }
}

/// Takes journal segments whose contacts are not in memory (from a previous
/// run, or journaled while memory was full) back into memory, as much as
/// there is room for.
pub fn read_back(shared: &Shared, journal: &Journal) {
    for segment in journal.spilled() {
        let room = shared.pending.room();
        if room == 0 {
            return;
        }
        let mut refused = Vec::new();
        let mut taken = 0;
        let result = journal.read_back(segment, room, &mut |contact, ticket| {
            if shared.trusted(&contact) && !shared.is_forgotten(&contact) {
                shared.remember_agent(&contact);
                shared.cache.lock().learn(contact.clone());
                shared.pending.push((contact, Some(ticket)));
                taken += 1;
            } else {
                refused.push(ticket);
            }
        });
        if let Err(error) = result {
            log_warning!("res_sticky: cannot read the journal back: {error}");
            return;
        }
        if !refused.is_empty() {
            log_warning!(
                "res_sticky: {} journaled contact(s) name an agent agent_pattern does not accept; not written",
                refused.len()
            );
            journal.confirm(refused);
        }
        if taken > 0 {
            log_notice!("res_sticky: writing {taken} contact(s) kept in the journal");
        }
    }
}

/// Erases contacts older than `retention`, a batch at a time (each a short
/// statement, so writes and lookups never wait long), soon after the start
/// and then every few minutes.
fn pruner(store: &dyn Store, shared: &Shared, stop: &AtomicBool, retention: Duration, timeout: Duration) {
    let mut wait = Duration::from_secs(2);
    while !stop.load(Ordering::SeqCst) {
        pause(stop, wait);
        wait = PRUNE_EVERY;
        let before = crate::time::now_ms() - retention.as_millis() as i64;
        let mut erased = 0;
        while !stop.load(Ordering::SeqCst) {
            match store.prune(before, PRUNE_BATCH, timeout) {
                Ok(count) => {
                    erased += count;
                    if count < PRUNE_BATCH {
                        break;
                    }
                    pause(stop, Duration::from_millis(50));
                }
                Err(error) => {
                    shared.note_failure(&error.to_string());
                    break;
                }
            }
        }
        if erased > 0 {
            log_notice!("res_sticky: pruned {erased} contact(s) older than the retention");
        }
    }
}

/// Reads the account owners (`sticky assign`) whole at start, again and
/// again until the store answers, then — when servers share the store — the
/// changes every `interval`, reading again what was newest a few seconds
/// ago (a row whose transaction committed late carries a lower id).
fn owner_follower(
    store: &dyn Store,
    shared: &Shared,
    stop: &AtomicBool,
    interval: Option<Duration>,
    timeout: Duration,
) {
    // The store this thread reads: a reload with another one starts anew.
    let generation = shared.owners.lock().generation;
    let mut marks: VecDeque<(Instant, i64)> = VecDeque::new();
    let mut backoff = Duration::from_millis(200);
    while !stop.load(Ordering::SeqCst) {
        let (loaded, seen) = {
            let owners = shared.owners.lock();
            if owners.generation != generation {
                // Another store now: its own follower reads it.
                return;
            }
            (owners.loaded, owners.seen)
        };
        if loaded {
            match interval {
                Some(interval) => pause(stop, interval),
                None => {
                    pause(stop, Duration::from_secs(1));
                    continue;
                }
            }
        }
        // While the database is failing the owners in memory answer; the
        // writer's and the poller's retries find out when it is back, and
        // this thread takes no connection from the lookups meanwhile.
        if loaded && !matches!(shared.breaker.health(), super::breaker::Health::Up) {
            continue;
        }
        while marks.front().is_some_and(|(at, _)| at.elapsed() > SYNC_OVERLAP) && marks.len() > 1 {
            marks.pop_front();
        }
        let from = if loaded { marks.front().map_or(seen, |(_, id)| *id).min(seen) } else { 0 };
        if shared.follow_owners(store, from, generation, stop, timeout) {
            marks.push_back((Instant::now(), shared.owners.lock().seen));
            backoff = Duration::from_millis(200);
        } else {
            pause(stop, backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

/// Follows the table's ids and adds contacts other servers wrote to the
/// numbers this server has cached; drops numbers forgotten on any server.
fn poller(
    store: &dyn Store,
    shared: &Shared,
    journal: &Journal,
    stop: &AtomicBool,
    interval: Duration,
    timeout: Duration,
) {
    let mut following: Option<Gaps> = None;
    // Gaps are given up after a few seconds, and never before the next poll.
    let keep = SYNC_OVERLAP.max(interval * 2);
    // After polls failed for a while (a standby promoted that never had the
    // primary's last ids, a table restored) the ids may have gone back: the
    // table's newest id says so.
    let outage = FOLLOW_AFRESH_AFTER.max(interval * 3);
    let mut last_ok = Instant::now();
    let mut failed = false;
    while !stop.load(Ordering::SeqCst) {
        pause(stop, interval);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        shared.apply_notes(store, journal, timeout);
        let Some(gaps) = following.as_mut() else {
            match store.last_id(timeout) {
                Ok(last) => {
                    following = Some(Gaps::new(last));
                    shared.counters.last_sync_ms.store(crate::time::now_ms(), Ordering::Relaxed);
                    shared.cache.lock().forget_coverage();
                    shared.note_success();
                }
                Err(error) => shared.note_failure(&error.to_string()),
            }
            continue;
        };
        // From below an id not seen yet (a row whose transaction commits
        // late carries an id below rows already read), else new rows only.
        let from = gaps.from(keep);
        match store.rows_after(from, 5_000, timeout) {
            Ok(rows) => {
                shared.note_success();
                shared.counters.last_sync_ms.store(crate::time::now_ms(), Ordering::Relaxed);
                gaps.read(rows.iter().map(|(id, _)| *id));
                let node = shared.node();
                let mut cache = shared.cache.lock();
                for (_, contact) in rows {
                    if contact.node != node && shared.trusted(&contact) && !shared.is_forgotten(&contact) {
                        cache.merge_remote(contact);
                    }
                }
                drop(cache);
                if std::mem::take(&mut failed) && last_ok.elapsed() >= outage {
                    if let Ok(last) = store.last_id(timeout) {
                        if last < gaps.newest() {
                            log_notice!(
                                "res_sticky: the history table's ids went back during an outage ({} read, {last} \
                                 now: a standby promoted, a table restored); the cache is emptied and the table \
                                 followed from there",
                                gaps.newest()
                            );
                            // Rows that took ids already read were never
                            // seen: what the cache holds may be stale.
                            shared.cache.lock().clear();
                            *gaps = Gaps::new(last);
                        }
                    }
                }
                last_ok = Instant::now();
            }
            Err(error) => {
                shared.note_failure(&error.to_string());
                failed = true;
            }
        }
    }
}
