//! Scheduled voice notices as Asterisk sees them: SCHEDULE_NOTICE in the
//! dialplan (on the operator's channel), and `sticky show notices` /
//! `sticky notice cancel` on the CLI.

use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use once_cell::sync::Lazy;

use super::running;
use crate::asterisk::application::AppResult;
use crate::asterisk::channel::Channel;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::asterisk::media::sound_exists;
use crate::asterisk::paths;
use crate::caller::Hungup;
use crate::history::here;
use crate::notice::limit::Limiter;
use crate::notice::spool::Spool;
use crate::notice::{self, parse_request, Context, NoticeStatus, Outcome, Phone};
use crate::routing::agent::interface_of;
use crate::text::shown;
use crate::time::server_time;
use crate::{log_warning, verbose};

/// Notices per operator in the last hour.
static LIMITER: Lazy<Limiter> = Lazy::new(Limiter::default);

/// How the time of a notice is read back: weekday, date, "at", time of day.
const SAY_TIME_FORMAT: &str = "ABdY 'digits/at' IMp";

impl Phone for Channel<'_> {
    fn record(&self, path: &str, quiet: bool, max: Duration) -> Result<Duration, Hungup> {
        Channel::record(self, path, quiet, max)
    }

    fn say_time(&self, due: Timestamp, zone: &str, keys: &str) -> Result<Option<char>, Hungup> {
        self.say_date(due.as_second(), zone, SAY_TIME_FORMAT, keys)
    }

    fn sound_exists(&self, name: &str) -> bool {
        sound_exists(name)
    }

    fn away(&self, work: &mut dyn FnMut()) {
        self.with_autoservice(work).0
    }
}

fn set_status(channel: &Channel, outcome: &Outcome) {
    super::metrics::NOTICES.count(outcome.status.as_str());
    channel.set_variable("NOTICE_STATUS", outcome.status.as_str());
    channel.set_variable("NOTICE_ID", outcome.id.as_deref().unwrap_or(""));
}

/// Asterisk's outgoing spool, where notices wait for their time.
pub(super) fn spool() -> Spool {
    Spool::new(&paths::spool_dir())
}

/// `SCHEDULE_NOTICE([number][,when[,recording[,options]]])`.
pub(super) fn schedule_notice(channel: &Channel, data: &str) -> AppResult {
    let Some(running) = running::current() else {
        return AppResult::Continue;
    };
    let rules = running.rules();
    let config = &rules.config;
    let request = match parse_request(data) {
        Ok(request) => request,
        Err(error) => {
            log_warning!("SCHEDULE_NOTICE({}): {error}", shown(data));
            set_status(channel, &Outcome { status: NoticeStatus::Error, id: None });
            return AppResult::Continue;
        }
    };
    let name = channel.name();
    let operator = interface_of(&name).unwrap_or(&name).to_string();
    // The other party of the call: the connected line (the caller on an
    // inbound call, the dialled number on an outbound one), else the peer's
    // caller ID.
    let mut bridged = Vec::new();
    if request.number.is_empty() && !request.options.last_client {
        bridged.extend(channel.connected_number());
        if let Some(peer) = channel.bridge_peer() {
            bridged.extend(peer.caller_number());
        }
    }
    let agent = rules.learn.agents.agent(&name);
    let last_client = || {
        let agent = agent.as_ref()?;
        // Called inside the Phone's `away` (under autoservice) already.
        match running.history.last_of_agent(&agent.id, &here) {
            Ok(contact) => contact.map(|c| c.client),
            Err(error) => {
                log_warning!("SCHEDULE_NOTICE: the last client of {} is unknown: {error}", agent.id);
                None
            }
        }
    };
    let spool = spool();
    let notice_dir = notice::notice_dir(&config.notice, &paths::spool_dir());
    let context = Context {
        config: &config.notice,
        allow: &rules.notice_allow,
        min_digits: config.general.min_digits,
        zone: rules.notice_zone.clone(),
        spool: &spool,
        notice_dir: &notice_dir,
        limiter: &LIMITER,
        operator,
        bridged,
        last_client: &last_client,
        now: Timestamp::now(),
    };
    let outcome = notice::schedule(&request, &context, channel);
    verbose!(
        3,
        "SCHEDULE_NOTICE on {name}: {}{}",
        outcome.status.as_str(),
        outcome.id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default()
    );
    set_status(channel, &outcome);
    if outcome.status == NoticeStatus::Hangup {
        AppResult::Hangup
    } else {
        AppResult::Continue
    }
}

fn shown_time(time: SystemTime) -> String {
    let ms = time.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    server_time(ms)
}

/// `sticky show notices`.
pub(super) fn show_notices(context: &CliContext) -> CliResult {
    if context.argv.len() != 3 {
        return CliResult::ShowUsage;
    }
    let spool = spool();
    let pending = spool.pending();
    let mut out = format!("Pending notices: {}\n", pending.len());
    out.push_str(&format!("  {:<10}  {:<19}  {:<16}  {}\n", "Id", "Due", "Number", "Scheduled by"));
    for n in &pending {
        out.push_str(&format!("  {:<10}  {:<19}  {:<16}  {}\n", n.id, shown_time(n.due), n.number, n.operator));
    }
    let finished = spool.finished();
    out.push_str(&format!("Finished notices: {} (newest last)\n", finished.len()));
    out.push_str(&format!("  {:<10}  {:<19}  {:<16}  {}\n", "Id", "Finished", "Number", "Status"));
    for n in finished.iter().rev().take(20).rev() {
        out.push_str(&format!(
            "  {:<10}  {:<19}  {:<16}  {}\n",
            n.id,
            shown_time(n.due),
            n.number,
            n.status.as_deref().unwrap_or("?")
        ));
    }
    context.write(&out);
    CliResult::Success
}

/// `sticky notice cancel <id>`.
pub(super) fn cancel_notice(context: &CliContext) -> CliResult {
    let Some(id) = context.argv.get(3).filter(|_| context.argv.len() == 4) else {
        return CliResult::ShowUsage;
    };
    if !notice::is_valid_id(id) {
        context.write(&format!("'{}' is not a notice id\n", shown(id)));
        return CliResult::Failure;
    }
    if !spool().cancel(id) {
        context.write(&format!("No pending notice {id}\n"));
        return CliResult::Failure;
    }
    if let Some(running) = running::current() {
        let dir = notice::notice_dir(&running.config().notice, &paths::spool_dir());
        notice::remove_recording(&dir, id);
    }
    verbose!(2, "res_sticky: notice {id} cancelled");
    context.write(&format!("Notice {id} cancelled\n"));
    CliResult::Success
}
