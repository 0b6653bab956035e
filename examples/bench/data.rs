//! The benchmark's call-centre traffic: a deterministic generator of
//! FreePBX-layout `cdr` rows — 200 agents, about 30% of calls from returning
//! clients, client numbers written the many ways they arrive, 90 days of
//! inbound and outbound calls with mixed dispositions.
//!
//! Client `c` has the number key `9000000000 + 37·c` (ten digits). The
//! dialplan loop computes the same keys, so it can look up clients that are
//! in the table (`c` below the number of clients) and numbers that are not
//! (`+ 18`: never a multiple of 37 away from the base).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Agents' extensions: 2000 … 2199.
pub const AGENTS: u64 = 200;
pub const FIRST_AGENT: u64 = 2000;
/// The key of client `c`, as the dialplan computes it too (where `+ 18`
/// makes a number in no table).
pub const KEY_BASE: u64 = 9_000_000_000;
pub const KEY_STEP: u64 = 37;
/// Days of traffic, ending now.
pub const DAYS: i64 = 90;

/// splitmix64: small, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub fn key_of(client: u64) -> u64 {
    KEY_BASE + client * KEY_STEP
}

/// The client's number as a caller id or a dialled number shows it.
fn written(key: u64, style: u64) -> String {
    let k = key.to_string();
    match style {
        0 => format!("+7{k}"),
        1 => format!("8{k}"),
        2 => k,
        3 => format!("7{k}"),
        4 => format!("+7 ({}) {}-{}-{}", &k[..3], &k[3..6], &k[6..8], &k[8..]),
        5 => format!("8 {} {}-{}-{}", &k[..3], &k[3..6], &k[6..8], &k[8..]),
        _ => format!("8-{}-{}-{}-{}", &k[..3], &k[3..6], &k[6..8], &k[8..]),
    }
}

/// What one generated table holds.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Distinct clients (keys `key_of(0..clients)`).
    pub clients: u64,
    pub returning_calls: u64,
    pub inbound: u64,
    pub outbound: u64,
    pub internal: u64,
    /// Rows res_sticky learns as contacts (see `LearnRule::contact`).
    pub contacts: u64,
    /// Rows whose client number has spaces or dashes.
    pub formatted: u64,
}

/// Writes `rows` cdr rows as CSV (the column order of [`COLUMNS`]), oldest
/// first, ending at `now` (seconds since the epoch, UTC = the root's zone).
pub fn generate(path: &Path, rows: u64, now: i64, seed: u64) -> Summary {
    let file = fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng::new(seed);
    let mut last_agent: Vec<u16> = Vec::with_capacity((rows as usize) * 3 / 4);
    let mut summary = Summary::default();
    let span = DAYS * 86_400;
    let start = now - span;
    let mut line = String::with_capacity(400);
    for i in 0..rows {
        let at = start + (i as i64 * span) / rows as i64 + rng.below(30) as i64;
        let at = at.min(now - 1);
        let calldate = jiff::Timestamp::from_second(at).unwrap().strftime("%Y-%m-%d %H:%M:%S").to_string();
        let uniqueid = format!("{at}.{i}");
        let kind = rng.below(100);
        line.clear();
        // Internal calls (agent to agent): 5%.
        if kind < 5 {
            summary.internal += 1;
            let a = FIRST_AGENT + rng.below(AGENTS);
            let b = FIRST_AGENT + rng.below(AGENTS);
            let _ = writeln!(
                line,
                "{calldate},\"\"\"{a}\"\" <{a}>\",{a},{b},from-internal,PJSIP/{a}-{i:08x},PJSIP/{b}-{:08x},Dial,PJSIP/{b},{},{},ANSWERED,3,,{uniqueid},,",
                i + 1,
                30 + rng.below(120),
                25 + rng.below(100)
            );
            out.write_all(line.as_bytes()).unwrap();
            continue;
        }
        let returning = !last_agent.is_empty() && rng.chance(30);
        let client = if returning {
            summary.returning_calls += 1;
            rng.below(last_agent.len() as u64)
        } else {
            last_agent.push(0);
            last_agent.len() as u64 - 1
        };
        let previous = last_agent[client as usize];
        let agent = if returning && previous != 0 && rng.chance(60) {
            previous as u64
        } else {
            FIRST_AGENT + rng.below(AGENTS)
        };
        let key = key_of(client);
        let style = rng.below(7);
        if style >= 4 {
            summary.formatted += 1;
        }
        let number = written(key, style);
        let duration = 5 + rng.below(600);
        if kind < 62 {
            // Inbound through the trunk, to a queue or straight to an agent.
            summary.inbound += 1;
            let roll = rng.below(100);
            let disposition = match roll {
                0..=79 => "ANSWERED",
                80..=94 => "NO ANSWER",
                95..=97 => "BUSY",
                _ => "FAILED",
            };
            let queue = rng.chance(70);
            let dstchannel = match (disposition, queue) {
                ("FAILED", _) => String::new(),
                (_, true) => format!("Local/{agent}@from-queue-{i:08x};1"),
                (_, false) => format!("PJSIP/{agent}-{:08x}", i + 1),
            };
            let (dst, lastapp, lastdata) = if queue {
                ("8000", "Queue", "8000,t".to_string())
            } else {
                ("4951234567", "Dial", format!("PJSIP/{agent}"))
            };
            let billsec = if disposition == "ANSWERED" { duration - 3 } else { 0 };
            if disposition == "ANSWERED" && !dstchannel.is_empty() {
                summary.contacts += 1;
                last_agent[client as usize] = agent as u16;
            }
            let _ = writeln!(
                line,
                "{calldate},\"\"\"{number}\"\" <{number}>\",\"{number}\",{dst},from-pstn,PJSIP/trunk-{i:08x},{dstchannel},{lastapp},\"{lastdata}\",{duration},{billsec},{disposition},3,,{uniqueid},,{key}",
            );
        } else {
            // Outbound: the agent dials the client.
            summary.outbound += 1;
            let roll = rng.below(100);
            let disposition = match roll {
                0..=54 => "ANSWERED",
                55..=84 => "NO ANSWER",
                85..=94 => "BUSY",
                _ => "FAILED",
            };
            let dstchannel = if disposition == "FAILED" { String::new() } else { format!("PJSIP/trunk-{i:08x}") };
            let billsec = if disposition == "ANSWERED" { duration - 5 } else { 0 };
            if !dstchannel.is_empty() {
                summary.contacts += 1;
                last_agent[client as usize] = agent as u16;
            }
            let _ = writeln!(
                line,
                "{calldate},\"\"\"{agent}\"\" <{agent}>\",{agent},\"{number}\",from-internal,PJSIP/{agent}-{i:08x},{dstchannel},Dial,\"PJSIP/{number}@trunk\",{duration},{billsec},{disposition},3,,{uniqueid},,{key}",
            );
        }
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    summary.clients = last_agent.len() as u64;
    summary
}

/// The CSV's columns, in order: FreePBX's `cdr` (the ones the benchmark
/// fills) and `num10`, the normalised client number a careful administrator
/// adds for func_odbc (case (b)).
pub const COLUMNS: &str = "calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, \
                           billsec, disposition, amaflags, accountcode, uniqueid, userfield, num10";
